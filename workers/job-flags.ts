import type { Redis } from 'ioredis';
import { cancelKey } from '../src/services/job-cancellation.js';

/** Set by a worker that is shutting down: its running jobs checkpoint at the next batch and retry elsewhere. */
export function interruptKey(prefix: string, jobId: string): string {
  return `${prefix}:training:interrupt:${jobId}`;
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
