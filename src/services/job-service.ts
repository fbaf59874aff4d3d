import { createHash } from 'node:crypto';
import type { Job as BullJob } from 'bullmq';
import { ConflictError, NotFoundError } from '../errors/domain-error.js';
import type { CreateJobBody, Job, JobStatusName } from '../schemas/jobs.js';
import { ActiveJobLimit } from './active-job-limit.js';
import { isCancelRequested, requestCancel } from './job-cancellation.js';
import { allJobTypes, jobStatusOf, pageOfJobs, unfinishedJobTypes } from './job-status.js';
import { newId } from './resource-id.js';
import {
  emptyProgress,
  type TrainingJobData,
  type TrainingJobProgress,
  type TrainingJobResult,
} from './training-job-data.js';
import type { TrainingQueue } from './training-queue.js';

type TrainingBullJob = BullJob<TrainingJobData, TrainingJobResult>;

const idempotencySeconds = 24 * 3600;

/** Jobs as users see them, on top of the BullMQ `training` queue. */
export class JobService {
  private readonly attempts: number;
  private readonly activeJobs: ActiveJobLimit | undefined;

  constructor(
    private readonly training: TrainingQueue,
    private readonly prefix: string,
    options: { attempts?: number; maxActivePerOwner?: number } = {},
  ) {
    this.attempts = options.attempts ?? 3;
    this.activeJobs =
      options.maxActivePerOwner === undefined
        ? undefined
        : new ActiveJobLimit(training.redis, prefix, options.maxActivePerOwner);
  }

  /**
   * Enqueues a job; with an Idempotency-Key, the same key and body give the same job. A new job takes one of
   * its owner's JOBS_MAX_ACTIVE_PER_KEY slots (TooManyActiveJobsError when none is free); a replay takes none.
   */
  async create(
    body: CreateJobBody,
    options: { idempotencyKey?: string; owner?: string } = {},
  ): Promise<{ id: string; created: boolean }> {
    const { idempotencyKey, owner = 'anonymous' } = options;
    const id = newId('job');
    const redis = this.training.redis;
    let idemKey: string | undefined;
    if (idempotencyKey) {
      idemKey = `${this.prefix}:training:idem:${sha256(idempotencyKey)}`;
      const record = JSON.stringify({ id, body: sha256(stableJson(body)) });
      const won = await redis.set(idemKey, record, 'EX', idempotencySeconds, 'NX');
      if (won !== 'OK') {
        const existing = JSON.parse((await redis.get(idemKey)) ?? '{}') as { id?: string; body?: string };
        if (existing.body !== sha256(stableJson(body))) {
          throw new ConflictError('Idempotency-Key was already used with a different request body');
        }
        return { id: existing.id!, created: false };
      }
    }
    try {
      await this.activeJobs?.reserve(owner, id);
    } catch (error) {
      if (idemKey) await redis.del(idemKey);
      throw error;
    }
    const data: TrainingJobData = {
      datasetId: body.datasetId,
      request: body,
      owner,
      createdAt: new Date().toISOString(),
    };
    try {
      await this.training.queue.add('train', data, {
        jobId: id,
        attempts: this.attempts,
        backoff: { type: 'exponential', delay: 5000 },
        removeOnComplete: false,
        removeOnFail: false,
      });
    } catch (error) {
      if (idemKey) await redis.del(idemKey);
      await this.activeJobs?.release(owner, id);
      throw error;
    }
    return { id, created: true };
  }

  async get(id: string): Promise<Job> {
    const job = (await this.training.queue.getJob(id)) as TrainingBullJob | undefined;
    if (!job) throw new NotFoundError('job', id);
    return this.describe(job);
  }

  async list(options: { status?: JobStatusName; limit: number; offset: number }) {
    const jobs = (await this.training.queue.getJobs(allJobTypes, 0, -1, false)) as TrainingBullJob[];
    const described = await Promise.all(jobs.filter(Boolean).map((job) => this.describe(job)));
    const { items, ...page } = pageOfJobs(described, options);
    return { jobs: items, ...page };
  }

  /** Queued jobs are cancelled at once; a running one stops within a batch (the worker polls the flag). */
  async cancel(id: string): Promise<Job> {
    const job = await this.get(id);
    if (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled') {
      throw new ConflictError(`job '${id}' already ended (${job.status}); there is nothing to cancel`, {
        jobStatus: job.status,
      });
    }
    await requestCancel(this.training.redis, this.prefix, id);
    return this.get(id);
  }

  /** Jobs that still need their dataset: queued or running, not cancelled. */
  async activeJobsUsingDataset(datasetId: string): Promise<string[]> {
    const jobs = (await this.training.queue.getJobs(unfinishedJobTypes, 0, -1)) as TrainingBullJob[];
    const using: string[] = [];
    for (const job of jobs) {
      if (!job || job.data.datasetId !== datasetId) continue;
      const status = (await this.describe(job)).status;
      if (status === 'queued' || status === 'running') using.push(job.id!);
    }
    return using;
  }

  private async describe(fetched: TrainingBullJob): Promise<Job> {
    const state = await fetched.getState();
    // The fields were read before the state; a job that finished in between would show 'completed' without
    // its returnvalue. Re-read them, so they are at least as new as the state.
    const job =
      state === 'completed' || state === 'failed'
        ? (((await this.training.queue.getJob(fetched.id!)) as TrainingBullJob | undefined) ?? fetched)
        : fetched;
    const cancelFlag = await isCancelRequested(this.training.redis, this.prefix, job.id!);
    const status = jobStatusOf(state, cancelFlag, job.failedReason);
    const progress: TrainingJobProgress =
      typeof job.progress === 'object' && job.progress !== null
        ? { ...emptyProgress(), ...(job.progress as Partial<TrainingJobProgress>) }
        : emptyProgress();
    return {
      id: job.id!,
      status,
      datasetId: job.data.datasetId,
      architecture: job.data.request.architecture,
      phase: progress.phase,
      stage: status === 'running' ? progress.stage : null,
      epoch: progress.epoch,
      epochs: progress.epochs,
      progress: status === 'completed' ? 1 : progress.progress,
      attempt: job.attemptsStarted ?? job.attemptsMade,
      history: progress.history,
      summary: progress.summary,
      modelId: status === 'completed' ? (job.returnvalue?.modelId ?? null) : null,
      error: status === 'failed' ? (job.failedReason ?? 'failed') : null,
      createdAt: job.data.createdAt,
      startedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      config: job.data.request,
    };
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with sorted keys, so the same body hashes the same whatever its key order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
