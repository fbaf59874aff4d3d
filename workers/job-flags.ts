import type { Redis } from 'ioredis';
import { cancelKey } from '../src/services/job-cancellation.js';

/**
 * Set by a worker that is shutting down, to the time it asked (ms since the epoch): its running jobs stop at the
 * next batch and retry elsewhere.
 */
export function interruptKey(prefix: string, jobId: string): string {
  return `${prefix}:training:interrupt:${jobId}`;
}

/** Asks a running job to stop at its next batch. */
export async function requestInterrupt(redis: Redis, prefix: string, jobId: string): Promise<void> {
  await redis.set(interruptKey(prefix, jobId), String(Date.now()), 'EX', 3600);
}

/**
 * Drops an interrupt meant for an earlier run of the job: one set before this run became active
 * (`processedOn`, stamped by the same host's worker). A flag set since, by a shutdown that began while this
 * processor was starting, stays and stops it at its first batch.
 */
export async function clearStaleInterrupt(
  redis: Redis,
  prefix: string,
  jobId: string,
  processedOn: number | undefined,
): Promise<void> {
  const key = interruptKey(prefix, jobId);
  const requestedAt = await redis.get(key);
  if (requestedAt !== null && !(Number(requestedAt) >= (processedOn ?? Infinity))) await redis.del(key);
}

/**
 * Polls a job's cancel and interrupt flags and turns them into AbortSignals the trainer checks
 * between batches.
 */
export function watchJobFlags(redis: Redis, prefix: string, jobId: string, intervalMs = 500) {
  const cancel = new AbortController();
  const interrupt = new AbortController();
  const check = async () => {
    const [cancelled, interrupted] = await redis.mget(cancelKey(prefix, jobId), interruptKey(prefix, jobId));
    if (cancelled && !cancel.signal.aborted) cancel.abort();
    if (interrupted && !interrupt.signal.aborted) interrupt.abort();
  };
  const timer = setInterval(() => void check().catch(() => undefined), intervalMs);
  return {
    cancel: cancel.signal,
    interrupt: interrupt.signal,
    check,
    stop: () => clearInterval(timer),
  };
}
