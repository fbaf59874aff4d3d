import { Worker } from 'bullmq';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../src/config.js';
import { createRedisConnection, redisOptions } from '../src/services/redis-connection.js';
import { requestInterrupt } from './job-flags.js';

export type WorkerLog = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface SandboxedWorker {
  worker: Worker;
  /** Asks running jobs to stop at their next batch, then closes the worker. Safe to call twice. */
  close(): Promise<void>;
}

export interface SandboxedWorkerOptions {
  queue: string;
  /** The processor's file name in workers/, without extension. */
  processor: string;
  concurrency: number;
  /** Names the jobs in log lines: 'training', 'batch'. */
  kind: string;
}

/**
 * A BullMQ worker whose processor runs in a child process (BullMQ's sandbox): a CPU-bound epoch or batch never
 * blocks lock renewal, tfjs-node is not safe in a second worker_thread, and the wasm backend ends its whole
 * process on an unhandled rejection. close() raises each running job's interrupt flag first, so it waits for
 * a batch, not a whole job; BullMQ hands the job on, here or to another worker.
 */
export function createSandboxedWorker(
  config: Config,
  log: WorkerLog,
  options: SandboxedWorkerOptions,
): SandboxedWorker {
  if (!config.redisUrl) throw new Error('REDIS_URL is required by a worker');
  // Same extension as this file: .ts under tsx, .js built.
  const here = fileURLToPath(import.meta.url);
  const processorFile = path.join(path.dirname(here), `${options.processor}${path.extname(here)}`);
  const worker = new Worker(options.queue, processorFile, {
    connection: redisOptions(config.redisUrl, 'worker'),
    prefix: config.queuePrefix,
    concurrency: options.concurrency,
    useWorkerThreads: false,
    // A job can run for long; the sandbox keeps renewing the lock, so a stall means a dead process.
    lockDuration: config.workerLockMs,
    stalledInterval: config.workerStalledIntervalMs,
    maxStalledCount: 2,
  });
  const flags = createRedisConnection(config.redisUrl, 'producer');
  const running = new Set<string>();
  worker.on('error', (err) => log.error({ err }, `${options.kind} worker error`));
  worker.on('active', (job) => running.add(job.id!));
  worker.on('failed', (job, err) => {
    if (job) running.delete(job.id!);
    log.warn({ jobId: job?.id, err: err.message }, `${options.kind} job failed`);
  });
  worker.on('completed', (job) => {
    running.delete(job.id!);
    log.info({ jobId: job.id }, `${options.kind} job completed`);
  });

  let closing: Promise<void> | undefined;
  return {
    worker,
    close() {
      closing ??= (async () => {
        const prefix = config.queuePrefix;
        await Promise.all([...running].map((id) => requestInterrupt(flags, prefix, id).catch(() => undefined)));
        await worker.close();
        flags.disconnect();
      })();
      return closing;
    },
  };
}
