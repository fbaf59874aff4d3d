import type { Job as BullJob } from 'bullmq';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { listBatchImages } from '../batch/batch-images.js';
import { extractArchive, type ArchiveLimits } from '../data/archive-extraction.js';
import { ConflictError, DomainError, NotFoundError } from '../errors/domain-error.js';
import type { BatchJob, BatchOptions, BatchResultFile } from '../schemas/batch-jobs.js';
import type { JobStatusName } from '../schemas/jobs.js';
import {
  batchKeys,
  emptyBatchProgress,
  type BatchJobData,
  type BatchJobProgress,
  type BatchJobResult,
  type BatchSource,
} from './batch-job-data.js';
import type { FileStorage } from './file-storage.js';
import type { InferenceQueue } from './inference-queue.js';
import { isCancelRequested, requestCancel } from './job-cancellation.js';
import { allJobTypes, jobStatusOf, pageOfJobs, unfinishedJobTypes } from './job-status.js';
import { newId } from './resource-id.js';

type BatchBullJob = BullJob<BatchJobData, BatchJobResult>;

/** An uploaded archive with no image in it. HTTP 422. */
export class EmptyBatchInputError extends DomainError {
  constructor() {
    super(422, 'No Images', 'the archive holds no images (.jpg, .jpeg, .png, .gif, .webp, .tif, .tiff, .avif)');
  }
}

/** A result asked for before the job completed. HTTP 409. */
export class BatchResultNotReadyError extends ConflictError {
  constructor(id: string, status: JobStatusName) {
    super(`batch job '${id}' is ${status}; its result exists once it has completed`, { jobStatus: status });
  }
}

/** An uploaded archive, extracted and checked under DATA_DIR/tmp, not yet a job. */
export interface StagedBatchInput {
  dir: string;
  images: number;
}

/**
 * Batch inference jobs as users see them, on top of the BullMQ `inference` queue. Uploaded images live in
 * DATA_DIR/batch-jobs/<id>/input until the job ends; the result is committed to DATA_DIR/batch-jobs/<id>/result
 * in one rename.
 */
export class BatchJobService {
  constructor(
    private readonly inference: InferenceQueue,
    private readonly storage: FileStorage,
    private readonly prefix: string,
    private readonly archiveLimits: Partial<ArchiveLimits>,
    /** As training jobs: a job survives two worker crashes or shutdowns (each retry starts over). */
    private readonly attempts = 3,
  ) {}

  /** Streams an archive to DATA_DIR/tmp and extracts it safely; nothing is kept when anything fails. */
  async stageUpload(upload: Readable): Promise<StagedBatchInput> {
    const dir = this.storage.tempPath('batch-input');
    await fsp.mkdir(dir, { recursive: true });
    try {
      const archive = path.join(dir, 'upload');
      await pipeline(upload, fs.createWriteStream(archive, { flags: 'wx', mode: 0o600 }));
      await extractArchive(archive, path.join(dir, 'input'), this.archiveLimits);
      await fsp.rm(archive);
      const images = (await listBatchImages(path.join(dir, 'input'))).length;
      if (images === 0) throw new EmptyBatchInputError();
      return { dir, images };
    } catch (error) {
      await this.discard({ dir, images: 0 });
      throw error;
    }
  }

  async discard(staged: StagedBatchInput): Promise<void> {
    await fsp.rm(staged.dir, { recursive: true, force: true });
  }

  /** Enqueues a job over a dataset, or over a staged upload (which it takes over). */
  async create(modelId: string, options: BatchOptions, input: { datasetId: string } | StagedBatchInput) {
    const id = newId('batch');
    const source: BatchSource =
      'datasetId' in input ? { type: 'dataset', datasetId: input.datasetId } : { type: 'upload' };
    try {
      if (!('datasetId' in input))
        await this.storage.commitDirectory(path.join(input.dir, 'input'), batchKeys.input(id));
      const data: BatchJobData = { modelId, source, options, createdAt: new Date().toISOString() };
      await this.inference.queue.add('batch', data, {
        jobId: id,
        attempts: this.attempts,
        // A retry starts over from the first image; there is no checkpoint to wait for.
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: false,
        removeOnFail: false,
      });
    } catch (error) {
      await this.storage.remove(batchKeys.root(id));
      throw error;
    } finally {
      if (!('datasetId' in input)) await this.discard(input);
    }
    return { id };
  }

  async get(id: string): Promise<BatchJob> {
    return this.describe(await this.find(id));
  }

  /** Newest first, optionally by status, as GET /v1/jobs lists training jobs. */
  async list(options: { status?: JobStatusName; limit: number; offset: number }) {
    const jobs = (await this.inference.queue.getJobs(allJobTypes, 0, -1, false)) as BatchBullJob[];
    const described = await Promise.all(jobs.filter(Boolean).map((job) => this.describe(job)));
    const { items, ...page } = pageOfJobs(described, options);
    return { batchJobs: items, ...page };
  }

  /** Queued or running batch jobs that read dataset `datasetId` (its deletion waits for them). */
  async activeJobsUsingDataset(datasetId: string): Promise<string[]> {
    const jobs = (await this.inference.queue.getJobs(unfinishedJobTypes, 0, -1)) as BatchBullJob[];
    const using = jobs.filter((job) => job?.data.source.type === 'dataset' && job.data.source.datasetId === datasetId);
    const described = await Promise.all(using.map((job) => this.describe(job)));
    return described.filter((job) => job.status === 'queued' || job.status === 'running').map((job) => job.id);
  }

  /** Queued jobs are cancelled at once (their uploaded images removed); a running one within a batch. */
  async cancel(id: string): Promise<BatchJob> {
    const job = await this.get(id);
    if (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled') {
      throw new ConflictError(`batch job '${id}' already ended (${job.status}); there is nothing to cancel`, {
        jobStatus: job.status,
      });
    }
    await requestCancel(this.inference.redis, this.prefix, id);
    if (job.status === 'queued') await this.storage.remove(batchKeys.input(id));
    return this.get(id);
  }

  /** The finished result directory and its files; 409 until the job has completed. */
  async result(id: string): Promise<{ dir: string; files: BatchResultFile[] }> {
    const job = await this.get(id);
    if (job.status !== 'completed') throw new BatchResultNotReadyError(id, job.status);
    return { dir: this.storage.resolve(batchKeys.result(id)), files: job.files as BatchResultFile[] };
  }

  /** One file of a finished result. */
  async resultFile(id: string, file: BatchResultFile): Promise<string> {
    const { dir, files } = await this.result(id);
    if (!files.includes(file)) throw new NotFoundError(`file of batch job '${id}'`, file);
    return path.join(dir, file);
  }

  private async find(id: string): Promise<BatchBullJob> {
    const job = (await this.inference.queue.getJob(id)) as BatchBullJob | undefined;
    if (!job) throw new NotFoundError('batch job', id);
    return job;
  }

  private async describe(fetched: BatchBullJob): Promise<BatchJob> {
    const state = await fetched.getState();
    // Fields read before the state may predate a finish in between: re-read them (see JobService).
    const job =
      state === 'completed' || state === 'failed' ? await this.find(fetched.id!).catch(() => fetched) : fetched;
    const cancelFlag = await isCancelRequested(this.inference.redis, this.prefix, job.id!);
    const status = jobStatusOf(state, cancelFlag, job.failedReason);
    const progress: BatchJobProgress =
      typeof job.progress === 'object' && job.progress !== null
        ? { ...emptyBatchProgress(), ...(job.progress as Partial<BatchJobProgress>) }
        : emptyBatchProgress();
    const result = status === 'completed' ? job.returnvalue : undefined;
    const { options, source } = job.data;
    const total = progress.total;
    return {
      id: job.id!,
      status,
      modelId: job.data.modelId,
      source: source.type,
      datasetId: source.type === 'dataset' ? source.datasetId : null,
      output: options.output,
      format: options.format,
      normalize: options.normalize ?? null,
      topK: options.topK,
      stage: status === 'running' ? progress.stage : null,
      processed: progress.processed,
      total,
      rows: result?.rows ?? progress.rows,
      skipped: result?.skipped ?? progress.skipped,
      progress: status === 'completed' ? 1 : total ? Math.min(1, progress.processed / total) : 0,
      attempt: job.attemptsStarted ?? job.attemptsMade,
      peakRssBytes: progress.peakRssBytes,
      files: result?.files ?? [],
      resultUrl: status === 'completed' ? `/v1/batch-jobs/${job.id}/result` : null,
      error: status === 'failed' ? (job.failedReason ?? 'failed') : null,
      createdAt: job.data.createdAt,
      startedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    };
  }
}

/** The same mapping as training jobs: a cancel flag turns a failed or waiting job into 'cancelled'. */
