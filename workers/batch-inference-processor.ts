import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { listBatchImages } from '../src/batch/batch-images.js';
import { BatchOutput } from '../src/batch/batch-output.js';
import { BatchRunAbortedError, runBatchInference } from '../src/batch/run-batch-inference.js';
import { selectBackend } from '../src/compute/backend.js';
import { loadConfig } from '../src/config.js';
import { DomainError } from '../src/errors/domain-error.js';
import { writeFileAtomic } from '../src/fs/atomic-file.js';
import { engineForArtifact } from '../src/inference/engine-for-artifact.js';
import type { InferenceEngine, LoadedModel } from '../src/inference/inference-engine.js';
import {
  batchKeys,
  emptyBatchProgress,
  type BatchJobData,
  type BatchJobProgress,
  type BatchJobResult,
} from '../src/services/batch-job-data.js';
import { FileStorage } from '../src/services/file-storage.js';
import { cancelledReason } from '../src/services/job-cancellation.js';
import { ModelRegistry } from '../src/services/model-registry.js';
import { createRedisConnection } from '../src/services/redis-connection.js';
import { metadataFileName } from '../src/training/trained-model-metadata.js';
import { readTrainedModelMetadata } from '../src/training/trained-model.js';
import { clearStaleInterrupt, watchJobFlags } from './job-flags.js';

const config = loadConfig();
const log = pino({ level: config.logLevel, name: 'batch-inference-processor' });
const storage = new FileStorage(config.dataDir);
const registry = new ModelRegistry(storage);
const redis = createRedisConnection(config.redisUrl!, 'producer');
const progressIntervalMs = 1000;

/** The model of the last job, kept loaded: consecutive batch jobs usually use the same model. */
let current: { key: string; engine: InferenceEngine; model: LoadedModel } | undefined;

/**
 * Loads a model the way the inference children do, so base and trained models need no special case. The cache
 * key includes metadata.json's inode and mtime: a model directory replaced under the same id (a base model
 * rebuilt from new weights) is loaded afresh.
 */
async function loadModel(modelId: string, dir: string) {
  const stat = await fs.stat(path.join(dir, metadataFileName));
  const key = `${modelId}\0${dir}\0${stat.ino}\0${stat.mtimeMs}`;
  if (current?.key === key) return current;
  if (current) current.engine.dispose(current.model);
  current = undefined;
  const metadata = await readTrainedModelMetadata(dir);
  const engine = await engineForArtifact(dir, metadata);
  // tfjs needs its backend chosen first; onnxruntime does not load tfjs at all.
  if (engine.name === 'tfjs') await selectBackend(config.tfBackend);
  current = { key, engine, model: await engine.load(dir, metadata) };
  return current;
}

/**
 * BullMQ sandboxed processor of the `inference` queue: one batch job at a time in its own process. It lists the
 * job's images, streams them through the model in full batches into files under DATA_DIR/tmp, renames the
 * finished directory into DATA_DIR/batch-jobs/<id>/result, and reports progress (with its own RSS) as it goes.
 * Cancellation is checked before every batch; a worker shutting down stops the job, which is retried from the
 * start.
 */
export default async function batchInferenceProcessor(
  job: SandboxedJob<BatchJobData, BatchJobResult>,
): Promise<BatchJobResult> {
  const jobId = job.id!;
  const { modelId, source, options } = job.data;
  const resultKey = batchKeys.result(jobId);
  const inputKey = batchKeys.input(jobId);
  await clearStaleInterrupt(redis, config.queuePrefix, jobId, job.processedOn);
  const flags = watchJobFlags(redis, config.queuePrefix, jobId);
  const progress: BatchJobProgress = { ...emptyBatchProgress(), stage: 'listing images' };
  let lastPublish = 0;
  let publishing: Promise<unknown> = Promise.resolve();
  const publish = (force = false) => {
    const rss = process.memoryUsage.rss();
    progress.rssBytes = rss;
    progress.peakRssBytes = Math.max(progress.peakRssBytes ?? 0, rss);
    if (!force && Date.now() - lastPublish < progressIntervalMs) return publishing;
    lastPublish = Date.now();
    const snapshot = { ...progress };
    publishing = publishing.then(() => job.updateProgress(snapshot)).catch(() => undefined);
    return publishing;
  };
  const outputDir = storage.tempPath(`batch-${jobId}`);
  let output: BatchOutput | undefined;
  try {
    await flags.check();
    if (flags.cancel.aborted) throw new BatchRunAbortedError(0);
    // A retry after the result was committed (the process died before BullMQ heard of it) is already done.
    if (await storage.exists(`${resultKey}/result.json`)) {
      const { rows, skipped, files } = await storage.readJson<BatchJobResult>(`${resultKey}/result.json`);
      return { rows, skipped, files };
    }

    await registry.get(modelId);
    const imagesKey = source.type === 'dataset' ? `datasets/${source.datasetId}/files` : inputKey;
    if (!(await storage.exists(imagesKey))) {
      throw new UnrecoverableError(
        source.type === 'dataset' ? `dataset '${source.datasetId}' no longer exists` : 'the uploaded images are gone',
      );
    }
    const images = await listBatchImages(storage.resolve(imagesKey));
    progress.total = images.length;
    progress.stage = 'loading model';
    await publish(true);
    const { engine, model } = await loadModel(modelId, registry.dir(modelId));

    if (options.output !== 'features' && model.numClasses === 0) {
      throw new UnrecoverableError(`model '${modelId}' has no classes, so it cannot give predictions`);
    }
    await fs.mkdir(outputDir, { recursive: true });
    output = await BatchOutput.open({
      dir: outputDir,
      output: options.output,
      format: options.format,
      normalize: options.normalize,
      topK: options.topK,
      classes: model.metadata.classes,
      featureDim: model.featureDim,
      expectedRows: images.length,
    });
    progress.stage = 'inference';
    log.info({ jobId, modelId, images: images.length, engine: engine.name }, 'batch job started');
    const signal = AbortSignal.any([flags.cancel, flags.interrupt]);
    const done = await runBatchInference({
      images,
      engine,
      model,
      output,
      batchSize: config.batchInferenceBatchSize,
      limitInputPixels: config.limits.imagePixels,
      signal,
      onProgress: (p) => {
        Object.assign(progress, { processed: p.processed, rows: p.rows, skipped: p.skipped });
        void publish();
      },
    });
    if (!(await storage.exists(imagesKey))) {
      throw new UnrecoverableError(`the job's images (${imagesKey}) were deleted while it read them`);
    }
    progress.stage = 'writing result';
    const files = await output.finish();
    output = undefined;
    const result: BatchJobResult = { rows: done.rows, skipped: done.skipped, files: [...files, 'result.json'] };
    const summary = {
      id: jobId,
      modelId,
      ...(source.type === 'dataset' ? { datasetId: source.datasetId } : {}),
      ...options,
      classes: model.metadata.classes,
      featureDim: model.featureDim,
      images: images.length,
      ...result,
      createdAt: job.data.createdAt,
      finishedAt: new Date().toISOString(),
    };
    await writeFileAtomic(path.join(outputDir, 'result.json'), `${JSON.stringify(summary, null, 2)}\n`);
    await storage.commitDirectory(outputDir, resultKey);
    await storage.remove(inputKey);
    log.info(
      { jobId, rows: result.rows, skipped: result.skipped, peakRssBytes: progress.peakRssBytes },
      'batch job completed',
    );
    return result;
  } catch (error) {
    await output?.abandon();
    await fs.rm(outputDir, { recursive: true, force: true });
    if (error instanceof BatchRunAbortedError && !flags.cancel.aborted) {
      // The worker is shutting down: the retry (on any worker) starts over; the uploaded images stay for it.
      throw new Error(`interrupted after ${error.processed} images; the job starts over on retry`, { cause: error });
    }
    const final =
      error instanceof BatchRunAbortedError || error instanceof UnrecoverableError || error instanceof DomainError;
    if (final || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await storage.remove(inputKey);
    if (error instanceof BatchRunAbortedError) throw new UnrecoverableError(cancelledReason);
    if (error instanceof DomainError) throw new UnrecoverableError(error.message);
    throw error;
  } finally {
    flags.stop();
    progress.stage = null;
    await publish(true);
  }
}
