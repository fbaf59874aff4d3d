import { Worker } from 'bullmq';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../src/config.js';
import { createRedisConnection, redisOptions } from '../src/services/redis-connection.js';
import { TRAINING_QUEUE } from '../src/services/training-queue.js';
import { interruptKey } from './job-flags.js';

// The processor runs in a child process (BullMQ's sandbox): a CPU-bound epoch never blocks lock renewal,
// and tfjs-node is not safe in a second worker_thread. Same extension as this file: .ts under tsx, .js built.
const processorFile = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  `training-processor${path.extname(fileURLToPath(import.meta.url))}`,
);

export interface TrainingWorker {
  worker: Worker;
  close(): Promise<void>;
}

export type WorkerLog = Pick<Logger, 'info' | 'warn' | 'error'>;

export function createTrainingWorker(config: Config, log: WorkerLog): TrainingWorker {
  if (!config.redisUrl) throw new Error('REDIS_URL is required by a worker');
  const worker = new Worker(TRAINING_QUEUE, processorFile, {
    connection: redisOptions(config.redisUrl, 'worker'),
    prefix: config.queuePrefix,
    concurrency: config.workerConcurrency,
    useWorkerThreads: false,
    // A training epoch can be long; the sandbox keeps renewing the lock, so stalls mean a dead process.
    lockDuration: config.workerLockMs,
    stalledInterval: config.workerStalledIntervalMs,
    maxStalledCount: 2,
  });
  const flags = createRedisConnection(config.redisUrl, 'producer');
  const running = new Set<string>();
  worker.on('error', (err) => log.error({ err }, 'training worker error'));
  worker.on('active', (job) => running.add(job.id!));
  worker.on('failed', (job, err) => {
    if (job) running.delete(job.id!);
    log.warn({ jobId: job?.id, err: err.message }, 'training job failed');
  });
  worker.on('completed', (job) => {
    running.delete(job.id!);
    log.info({ jobId: job.id }, 'training job completed');
  });

  let closing: Promise<void> | undefined;
  return {
    worker,
    close() {
      // Safe to call twice. Running jobs are asked to checkpoint at their next batch and end the attempt,
      // so close() waits a batch, not an epoch; BullMQ's retry resumes them, here or on another worker.
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
