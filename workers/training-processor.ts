import { UnrecoverableError, WaitingError, type SandboxedJob } from 'bullmq';
import fs from 'node:fs/promises';
import { pino } from 'pino';
import { selectBackend } from '../src/compute/backend.js';
import { loadConfig } from '../src/config.js';
import { DomainError } from '../src/errors/domain-error.js';
import { WeightsImportError } from '../src/model/weights/weights-errors.js';
import { exportArtifactToOnnx } from '../src/onnx/export-artifact-onnx.js';
import { FileStorage } from '../src/services/file-storage.js';
import { cancelledReason } from '../src/services/job-cancellation.js';
import { ModelRegistry } from '../src/services/model-registry.js';
import { createRedisConnection } from '../src/services/redis-connection.js';
import { newId } from '../src/services/resource-id.js';
import type { TrainingJobData, TrainingJobProgress, TrainingJobResult } from '../src/services/training-job-data.js';
import { OutOfMemoryError, TrainingCancelledError, TrainingInterruptedError } from '../src/training/training-errors.js';
import { trainTwoPhase } from '../src/training/two-phase-trainer.js';
import { clearStaleInterrupt, watchJobFlags } from './job-flags.js';
import { JobProgressReporter } from './job-progress-reporter.js';

const config = loadConfig();
const log = pino({ level: config.logLevel, name: 'training-processor' });
const storage = new FileStorage(config.dataDir);
const registry = new ModelRegistry(storage);
const redis = createRedisConnection(config.redisUrl!, 'producer');

/**
 * BullMQ sandboxed processor: runs in its own child process, one training job at a time. It resumes from
 * the job's last checkpoint on a retry, reports progress, honours cancellation between batches, and
 * registers the model when training ends. A graceful shutdown of its worker puts the job back in the queue
 * without spending one of its attempts.
 */
export default async function trainingProcessor(
  job: SandboxedJob<TrainingJobData, TrainingJobResult>,
  token?: string,
): Promise<TrainingJobResult> {
  const jobId = job.id!;
  await clearStaleInterrupt(redis, config.queuePrefix, jobId, job.processedOn);
  const flags = watchJobFlags(redis, config.queuePrefix, jobId);
  await flags.check();
  if (flags.cancel.aborted) throw new UnrecoverableError(cancelledReason);
  // Delivery is at least once: an attempt that registered its model and died before BullMQ recorded the
  // completion is run again. It must answer with that model, not train and register a second one.
  const registered = (await registry.list()).find((model) => model.jobId === jobId);
  if (registered) {
    flags.stop();
    await fs.rm(storage.resolve(`jobs/${jobId}`), { recursive: true, force: true });
    log.info({ jobId, modelId: registered.id }, 'model already registered by an earlier attempt');
    return { modelId: registered.id };
  }
  const backend = await selectBackend(config.tfBackend);
  const { datasetId, request } = job.data;
  const { datasetId: _datasetId, ...trainingConfig } = request;
  const datasetDir = storage.resolve(`datasets/${datasetId}/files`);
  if (!(await storage.exists(`datasets/${datasetId}/files`))) {
    throw new UnrecoverableError(`dataset '${datasetId}' no longer exists`);
  }
  const totalEpochs = request.head.epochs + (request.finetune ? request.finetune.epochs : 0);
  const reporter = new JobProgressReporter(
    totalEpochs,
    (progress) => job.updateProgress(progress as unknown as object),
    typeof job.progress === 'object' ? (job.progress as Partial<TrainingJobProgress>) : undefined,
  );
  const workDir = storage.resolve(`jobs/${jobId}/work`);
  const outputDir = storage.tempPath(`model-${jobId}`);
  log.info(
    { jobId, backend: backend.name, attempt: job.attemptsMade + 1, started: job.attemptsStarted },
    'training started',
  );
  try {
    const result = await trainTwoPhase({
      config: trainingConfig,
      datasetDir,
      workDir,
      outputDir,
      weightsDir: config.weightsDir,
      weightsVerify: config.weightsVerify,
      resume: true,
      signal: flags.cancel,
      interrupt: flags.interrupt,
      onProgress: (event) => reporter.onEvent(event),
      log: (level, message, data) => log[level]({ jobId, ...data }, message),
    });
    try {
      const bytes = await exportArtifactToOnnx(result.artifactDir);
      log.info({ jobId, bytes }, 'exported model.onnx');
    } catch (error) {
      // The tfjs artifact still serves; ONNX is the faster engine, not a requirement.
      log.warn({ jobId, err: error }, 'ONNX export failed; the model is served by tfjs');
    }
    const modelId = newId('mdl');
    await registry.register(result.artifactDir, {
      id: modelId,
      jobId,
      datasetId,
      createdAt: new Date().toISOString(),
    });
    // The trainer's own record is complete even if a progress update was lost to a crash between attempts.
    reporter.progress.history = result.metadata.history;
    reporter.progress.stage = null;
    await fs.rm(storage.resolve(`jobs/${jobId}`), { recursive: true, force: true });
    log.info({ jobId, modelId }, 'training completed');
    return { modelId };
  } catch (error) {
    await fs.rm(outputDir, { recursive: true, force: true });
    if (error instanceof TrainingCancelledError) {
      await fs.rm(storage.resolve(`jobs/${jobId}`), { recursive: true, force: true });
      throw new UnrecoverableError(cancelledReason);
    }
    if (error instanceof TrainingInterruptedError) {
      // The worker is shutting down and the checkpoint is saved. That is not a failure, so it must not spend
      // an attempt (three restarts of a worker would otherwise fail a healthy job): the job goes back to the
      // front of the wait list with attemptsMade unchanged, and the next worker resumes at the checkpoint.
      // BullMQ's sandbox relays moveToWait to the parent before the WaitingError that follows it, and the
      // parent then leaves the job where it is instead of retrying or failing it.
      log.info(
        { jobId, phase: error.phase, epoch: error.epoch },
        `interrupted at ${error.phase} epoch ${error.epoch}; resumes from its checkpoint`,
      );
      flags.stop();
      await reporter.flush();
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (error instanceof OutOfMemoryError && error.processUnusable) {
      // An aborted wasm module keeps its heap full: this child cannot train again. Let BullMQ deliver the
      // failure, then exit so the next job gets a fresh child process.
      setTimeout(() => process.exit(1), 2000).unref();
    }
    if (error instanceof DomainError || error instanceof WeightsImportError) {
      throw new UnrecoverableError(error.message);
    }
    throw error;
  } finally {
    flags.stop();
    await reporter.flush();
  }
}
