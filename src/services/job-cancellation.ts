import type { Redis } from 'ioredis';

/**
 * Cancellation is a flag in Redis that the api sets and the worker's processor polls between batches.
 * A job flagged before it starts is dropped by the processor as soon as a worker takes it.
 */
export function cancelKey(prefix: string, jobId: string): string {
  return `${prefix}:training:cancel:${jobId}`;
}

const keepSeconds = 30 * 24 * 3600;

export async function requestCancel(redis: Redis, prefix: string, jobId: string): Promise<void> {
  await redis.set(cancelKey(prefix, jobId), new Date().toISOString(), 'EX', keepSeconds);
}

export async function isCancelRequested(redis: Redis, prefix: string, jobId: string): Promise<boolean> {
  return (await redis.exists(cancelKey(prefix, jobId))) === 1;
}

/** The failure message a cancelled job ends with; the api maps it to status 'cancelled'. */
export const cancelledReason = 'cancelled by request';
