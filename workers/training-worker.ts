import { createTrainingWorker } from './create-training-worker.js';
import { runWorkerProcess } from './run-worker-process.js';

// start:worker — one BullMQ worker on the `training` queue; SIGTERM lets the current job checkpoint, then exits.
await runWorkerProcess('training worker', createTrainingWorker, (config) => config.workerConcurrency);
