import { Worker } from 'bullmq';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config.js';
import { INFERENCE_QUEUE } from '../src/services/inference-queue.js';
import { createRedisConnection, redisOptions } from '../src/services/redis-connection.js';
import type { WorkerLog } from './create-training-worker.js';
import { interruptKey } from './job-flags.js';

// The processor runs in a child process (BullMQ's sandbox), as training does: tfjs-node is not safe in a second
// worker_thread, and the wasm backend ends the whole process on an unhandled rejection. Same extension as this
// file: .ts under tsx, .js built.
const processorFile = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  `batch-inference-processor${path.extname(fileURLToPath(import.meta.url))}`,
);

export interface InferenceWorker {
  worker: Worker;
  close(): Promise<void>;
}

/**
 * A BullMQ worker on the `inference` queue: batch feature extraction and prediction jobs, each in a sandboxed
 * process, INFERENCE_WORKER_CONCURRENCY at once. It never takes training jobs, so the two scale apart.
 */
export function createInferenceWorker(config: Config, log: WorkerLog): InferenceWorker {
  if (!config.redisUrl) throw new Error('REDIS_URL is required by a worker');
  const worker = new Worker(INFERENCE_QUEUE, processorFile, {
    connection: redisOptions(config.redisUrl, 'worker'),
    prefix: config.queuePrefix,
    concurrency: config.inferenceWorkerConcurrency,
    useWorkerThreads: false,
    lockDuration: config.workerLockMs,
    stalledInterval: config.workerStalledIntervalMs,
    maxStalledCount: 2,
  });
  const flags = createRedisConnection(config.redisUrl, 'producer');
  const running = new Set<string>();
  worker.on('error', (err) => log.error({ err }, 'inference worker error'));
  worker.on('active', (job) => running.add(job.id!));
  worker.on('failed', (job, err) => {
    if (job) running.delete(job.id!);
    log.warn({ jobId: job?.id, err: err.message }, 'batch job failed');
  });
  worker.on('completed', (job) => {
    running.delete(job.id!);
    log.info({ jobId: job.id }, 'batch job completed');
  });

  let closing: Promise<void> | undefined;
  return {
    worker,
    close() {
      // Safe to call twice. Running jobs stop at their next batch of images and are retried from the start,
      // here or on another worker, so close() waits a batch, not a whole job.
      closing ??= (async () => {
        const prefix = config.queuePrefix;
        await Promise.all(
          [...running].map((id) => flags.set(interruptKey(prefix, id), '1', 'EX', 3600).catch(() => undefined)),
        );
        await worker.close();
        flags.disconnect();
      })();
      return closing;
    },
  };
}
