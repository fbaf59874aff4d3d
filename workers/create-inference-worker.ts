import type { Config } from '../src/config.js';
import { INFERENCE_QUEUE } from '../src/services/inference-queue.js';
import { createSandboxedWorker, type SandboxedWorker, type WorkerLog } from './sandboxed-worker.js';

export type InferenceWorker = SandboxedWorker;

/**
 * A BullMQ worker on the `inference` queue: batch feature extraction and prediction jobs,
 * INFERENCE_WORKER_CONCURRENCY at once. It never takes training jobs, so the two scale apart. On close, running
 * jobs stop at their next batch of images and are retried from the start, here or on another worker.
 */
export function createInferenceWorker(config: Config, log: WorkerLog): InferenceWorker {
  return createSandboxedWorker(config, log, {
    queue: INFERENCE_QUEUE,
    processor: 'batch-inference-processor',
    concurrency: config.inferenceWorkerConcurrency,
    kind: 'batch',
  });
}
