import type { Config } from '../src/config.js';
import { TRAINING_QUEUE } from '../src/services/training-queue.js';
import { createSandboxedWorker, type SandboxedWorker, type WorkerLog } from './sandboxed-worker.js';

export type { WorkerLog } from './sandboxed-worker.js';
export type TrainingWorker = SandboxedWorker;

/**
 * A BullMQ worker on the `training` queue, WORKER_CONCURRENCY jobs at once. On close, running jobs checkpoint
 * at their next batch and go back to the queue without spending an attempt.
 */
export function createTrainingWorker(config: Config, log: WorkerLog): TrainingWorker {
  return createSandboxedWorker(config, log, {
    queue: TRAINING_QUEUE,
    processor: 'training-processor',
    concurrency: config.workerConcurrency,
    kind: 'training',
  });
}
