import type { JobType } from 'bullmq';
import type { JobStatusName } from '../schemas/jobs.js';
import { cancelledReason } from './job-cancellation.js';

/** BullMQ states of a job not yet taken by a worker. */
export const queuedJobTypes: JobType[] = ['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children'];
/** Queued or running: what may still read a dataset. */
export const unfinishedJobTypes: JobType[] = [...queuedJobTypes, 'active'];
export const allJobTypes: JobType[] = [...unfinishedJobTypes, 'completed', 'failed'];

/**
 * The status users see, for training and batch jobs alike, from BullMQ's state and the job's cancel flag: a
 * queued job with the flag is already cancelled, a running one is until it stops.
 */
export function jobStatusOf(state: string, cancelFlag: boolean, failedReason: string | undefined): JobStatusName {
  if (state === 'completed') return 'completed';
  if (state === 'failed') return cancelFlag || failedReason === cancelledReason ? 'cancelled' : 'failed';
  if (cancelFlag && state !== 'active') return 'cancelled';
  if (state === 'active') return 'running';
  return 'queued';
}

/** One page of described jobs, newest first, optionally of one status, as GET /v1/jobs and /v1/batch-jobs list. */
export function pageOfJobs<T extends { id: string; status: JobStatusName; createdAt: string }>(
  described: T[],
  options: { status?: JobStatusName; limit: number; offset: number },
): { items: T[]; total: number; limit: number; offset: number } {
  const filtered = described
    .filter((job) => !options.status || job.status === options.status)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  return {
    items: filtered.slice(options.offset, options.offset + options.limit),
    total: filtered.length,
    limit: options.limit,
    offset: options.offset,
  };
}
