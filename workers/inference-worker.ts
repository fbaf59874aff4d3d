import { createInferenceWorker } from './create-inference-worker.js';
import { runWorkerProcess } from './run-worker-process.js';

// start:inference-worker — one BullMQ worker on the `inference` queue (batch jobs); SIGTERM stops the running
// job at its next batch of images (it is retried), then exits.
await runWorkerProcess('inference worker', createInferenceWorker, (config) => config.inferenceWorkerConcurrency);
