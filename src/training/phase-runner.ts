import { tf, type LayersModel } from '../compute/tf.js';
import { createBatchStream, type BatchStream } from '../data/batch-pipeline.js';
import { deriveSeed } from '../data/seeded-random.js';
import { featureExtractor } from '../model/feature-extractor.js';
import { parameterSummary } from '../model/parameter-summary.js';
import type { TrainingPhase } from '../model/training-phase.js';
import type { ResolvedFinetunePhase, ResolvedHeadPhase, ResolvedTrainingConfig } from '../schemas/training-config.js';
import { recalibrateBatchNorm } from './bn-recalibration.js';
import { createCacheFeatureExtractor } from './cache-feature-extractor.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { DropoutControl } from './dropout-control.js';
import { initialEarlyStoppingState, updateEarlyStopping } from './early-stopping.js';
import { createAdam } from './fused-adam.js';
import { evaluatePredictions } from './evaluation.js';
import {
  allCachedBatches,
  buildFeatureCache,
  cachedBatches,
  featureCacheBytes,
  maxFeatureCacheBytes,
  type FeatureCache,
} from './feature-cache.js';
import {
  chooseBatchSize,
  estimateStepBytes,
  isOutOfMemoryError,
  isWasmRuntimeError,
  largestFittingBatch,
  modelMemoryProfile,
  wasmHeapLimitBytes,
  type StepKind,
} from './memory-estimate.js';
import { setUpPhase, trainModeBatchNorms } from './phase-setup.js';
import type { TrainingLogger, TrainingProgressEvent } from './progress-events.js';
import type { PartialEpoch, TrainerState } from './trainer-state.js';
import type { TrainingDataset } from './training-dataset.js';
import {
  OutOfMemoryError,
  TrainingCancelledError,
  TrainingDivergedError,
  TrainingInterruptedError,
} from './training-errors.js';
import type { HistoryEntry } from './training-history.js';
import { collect, predictDataset } from './validation-predictions.js';
import {
  extractFeatures,
  featureTrainStep,
  headLayersOf,
  imageTrainStep,
  predictFeatures,
  trainableVariables,
  type HeadLayers,
  type StepResult,
} from './training-steps.js';

/**
 * Runs one phase of the two-phase schedule on a model whose weights are where the phase starts (or, when
 * resuming into it, where the checkpoint left them): configures the layers, creates a new Adam optimizer
 * (as Keras' recompile does), then trains epoch by epoch with a checkpoint after each. Mutates `state`.
 */

type PhaseSettings = ResolvedHeadPhase | ResolvedFinetunePhase;

export interface PhaseContext {
  model: LayersModel;
  config: ResolvedTrainingConfig;
  dataset: TrainingDataset;
  store: CheckpointStore<TrainerState>;
  state: TrainerState;
  dropout: DropoutControl;
  workDir: string;
  featureCache: boolean;
  /** Engine that fills the feature cache: onnxruntime when it loads ('auto'), or always tfjs. */
  featureEngine?: 'auto' | 'tfjs';
  /** Most images the precise-BN pass looks at after an epoch. */
  bnRecalibrationImages: number;
  signal?: AbortSignal;
  interrupt?: AbortSignal;
  emit: (event: TrainingProgressEvent) => void;
  log: TrainingLogger;
}

interface Caches {
  train?: FeatureCache;
  val?: FeatureCache;
}

const now = () => performance.now();
/** Largest batch of the precise-BN pass (a forward pass in training mode keeps every layer's output). */
const maxRecalibrationBatch = 256;

export class PhaseRunner {
  private optimizer!: tf.Optimizer;
  private variables: tf.Variable[] = [];
  private batchSize = 1;
  private readonly head: HeadLayers;
  private readonly featureDim: number;
  private caches: Caches = {};
  /** Shares the model's layers; never disposed (that would free the model's weights). */
  private extractor?: LayersModel;

  constructor(
    private readonly ctx: PhaseContext,
    private readonly phase: TrainingPhase,
    private readonly settings: PhaseSettings,
  ) {
    this.head = headLayersOf(ctx.model);
    if (phase === 'head') this.extractor = featureExtractor(ctx.model);
    this.featureDim = (ctx.model.getLayer('avg_pool').outputShape as number[])[1]!;
  }

  private get state(): TrainerState {
    return this.ctx.state;
  }

  async run(): Promise<void> {
    const { ctx, phase, settings, state } = this;
    const unfreeze = 'unfreeze' in settings ? settings.unfreeze : undefined;
    setUpPhase(ctx.model, phase, settings.bnMode, unfreeze);
    state.parameters[phase] = parameterSummary(ctx.model);
    const resuming = state.phase === phase && (state.epochsDone > 0 || state.partial !== null);
    if (!resuming) {
      state.phase = phase;
      state.epochsDone = 0;
      state.partial = null;
      state.batchSizes[phase] = undefined;
      if (phase === 'finetune') {
        state.earlyStopping =
          'earlyStopping' in settings && settings.earlyStopping ? initialEarlyStoppingState() : null;
        state.bestTag = null;
      }
    }
    this.checkFitsAtAll();
    this.batchSize = state.batchSizes[phase] ?? this.resolveBatchSize();
    state.batchSizes[phase] = this.batchSize;
    this.optimizer = createAdam(settings.learningRate);
    this.variables = trainableVariables(ctx.model);
    try {
      if (resuming) await ctx.store.restore(ctx.model, this.optimizer);
      else await this.checkpoint();
      await this.buildCaches();
      ctx.emit({
        type: 'phase',
        phase,
        summary: {
          epochs: settings.epochs,
          startEpoch: state.epochsDone + 1,
          batchSize: this.batchSize,
          learningRate: settings.learningRate,
          bnMode: settings.bnMode,
          ...(unfreeze !== undefined ? { unfreeze } : {}),
          parameters: state.parameters[phase]!,
          trainImages: ctx.dataset.train.length,
          valImages: ctx.dataset.val.length,
          featureCache: this.caches.train !== undefined,
        },
      });
      ctx.log('info', `${phase} phase`, { epochs: settings.epochs, batchSize: this.batchSize, resuming });
      const stopped = () => state.earlyStopping?.stoppedEpoch != null;
      for (let epoch = state.epochsDone + 1; epoch <= settings.epochs && !stopped(); epoch++) {
        await this.runEpochWithRetry(epoch);
      }
      await this.restoreBestWeights();
    } finally {
      this.optimizer.dispose();
      this.caches = {};
    }
  }

  private resolveBatchSize(): number {
    const { settings, ctx, phase } = this;
    if (settings.batchSize !== 'auto') return this.fitExplicitBatchSize(settings.batchSize);
    const choice = chooseBatchSize(modelMemoryProfile(ctx.model), this.stepKind, Math.max(1, ctx.dataset.train.length));
    ctx.log('info', `batchSize 'auto' chose ${choice.batchSize}`, {
      phase,
      estimatedMiB: Math.round(choice.estimatedBytes / 2 ** 20),
      budgetMiB: Math.round(choice.budgetBytes / 2 ** 20),
    });
    return choice.batchSize;
  }

  /**
   * An explicit batch size is kept unless, on wasm, the estimate says it cannot fit in the 4 GiB heap at
   * all: there an allocation failure is not recoverable (see OutOfMemoryError), so it is halved up front.
   */
  private fitExplicitBatchSize(requested: number): number {
    const { ctx, phase } = this;
    if (tf.getBackend() !== 'wasm') return requested;
    const profile = modelMemoryProfile(ctx.model);
    let batchSize = requested;
    while (batchSize > 1 && estimateStepBytes(profile, batchSize, this.stepKind) > wasmHeapLimitBytes * 0.9) {
      batchSize = Math.floor(batchSize / 2);
    }
    if (batchSize !== requested) {
      ctx.log('warn', `batch size ${requested} cannot fit in the 4 GiB wasm heap; using ${batchSize}`, { phase });
      this.state.batchSizeReductions.push({
        phase,
        epoch: 0,
        fromBatchSize: requested,
        toBatchSize: batchSize,
        reason: 'memory-estimate',
      });
    }
    return batchSize;
  }

  /**
   * Phase 1 with BN in inference mode runs the frozen base as a plain forward pass (training=false, off
   * the gradient tape) and backpropagates through the head alone, from cached or freshly computed
   * features; anything else backpropagates through the base.
   */
  private get stepKind(): StepKind {
    return this.phase === 'head' && this.settings.bnMode === 'inference' ? 'inference' : 'backward';
  }

  /** On wasm, a step that cannot fit in the 4 GiB heap even with one image is refused before it aborts the module. */
  private checkFitsAtAll(): void {
    const { ctx } = this;
    if (tf.getBackend() !== 'wasm') return;
    const bytes = estimateStepBytes(modelMemoryProfile(ctx.model), 1, this.stepKind);
    if (bytes > wasmHeapLimitBytes) {
      throw new OutOfMemoryError(
        'wasm',
        1,
        ctx.config.imageSize,
        `${ctx.config.architecture} needs about ${(bytes / 1024 ** 3).toFixed(1)} GiB for one ${this.phase} step ` +
          `of one image`,
      );
    }
  }

  private checkCancelled(): void {
    if (this.ctx.signal?.aborted) throw new TrainingCancelledError(this.phase);
  }

  private async checkpoint(): Promise<void> {
    const { state, ctx } = this;
    await ctx.store.save(state, ctx.model, this.optimizer, state.bestTag ? [state.bestTag] : []);
  }

  private async buildCaches(): Promise<void> {
    const { ctx, phase, settings } = this;
    this.caches = {};
    if (phase !== 'head' || settings.bnMode !== 'inference' || !ctx.featureCache) return;
    const cacheTrain = ctx.config.augmentation === false;
    const images = ctx.dataset.val.length + (cacheTrain ? ctx.dataset.train.length : 0);
    if (images === 0 || featureCacheBytes(images, this.featureDim) > maxFeatureCacheBytes) return;
    ctx.emit({ type: 'stage', stage: 'caching-features', detail: `${images} images` });
    const started = now();
    const extractor = await createCacheFeatureExtractor(
      this.extractor!,
      ctx.config.imageSize,
      ctx.featureEngine ?? 'auto',
      (reason: string) => ctx.log('warn', 'onnxruntime feature extraction unavailable; using tfjs', { reason }),
    );
    const build = (items: TrainingDataset['train']) =>
      buildFeatureCache(extractor, items, {
        numClasses: ctx.dataset.classes.length,
        imageSize: ctx.config.imageSize,
        batchSize: Math.max(this.batchSize, 8),
        featureDim: this.featureDim,
        shouldStop: () => this.checkCancelled(),
      });
    try {
      if (cacheTrain && ctx.dataset.train.length > 0) this.caches.train = await build(ctx.dataset.train);
      if (ctx.dataset.val.length > 0) this.caches.val = await build(ctx.dataset.val);
    } finally {
      await extractor.release();
    }
    const ms = now() - started;
    this.state.featureCacheMs += ms;
    this.state.featureCacheImages = Math.max(this.state.featureCacheImages, images);
    ctx.log('info', 'feature cache built', { images, ms: Math.round(ms), engine: extractor.engine });
  }

  private trainStream(): BatchStream {
    const { ctx, phase } = this;
    return createBatchStream({
      items: ctx.dataset.train,
      numClasses: ctx.dataset.classes.length,
      imageSize: ctx.config.imageSize,
      batchSize: this.batchSize,
      shuffle: true,
      seed: deriveSeed(ctx.config.seed, 'train', phase),
      augmentation: ctx.config.augmentation,
    });
  }

  private async runEpochWithRetry(epoch: number): Promise<void> {
    for (;;) {
      try {
        await this.runEpoch(epoch);
        return;
      } catch (error) {
        if (!isOutOfMemoryError(error)) throw error;
        // A failed allocation inside the wasm heap aborts the module (see OutOfMemoryError): no retry can
        // succeed. JS-side failures (RangeError: Array buffer allocation failed) are recoverable.
        if (this.batchSize <= 1 || isWasmRuntimeError(error)) {
          throw new OutOfMemoryError(tf.getBackend(), this.batchSize, this.ctx.config.imageSize, error);
        }
        await this.retryWithSmallerBatch(epoch, error);
      }
    }
  }

  /** Rolls back to the last checkpoint (the start of this epoch, or where it was interrupted) at half the batch. */
  private async retryWithSmallerBatch(epoch: number, error: unknown): Promise<void> {
    const { ctx, state, phase } = this;
    const from = this.batchSize;
    const saved = (await ctx.store.readState())!;
    let to = Math.floor(from / 2);
    // A partial epoch resumes at a batch index; keep the images already done on a batch boundary.
    if (saved.partial && (saved.partial.batchesDone * from) % to !== 0) to = 1;
    ctx.log('warn', `out of memory at batch size ${from}; retrying epoch ${epoch} at ${to}`, {
      phase,
      error: String(error),
    });
    Object.assign(state, saved);
    if (state.partial) state.partial.batchesDone = (state.partial.batchesDone * from) / to;
    state.batchSizes[phase] = to;
    state.batchSizeReductions.push({ phase, epoch, fromBatchSize: from, toBatchSize: to, reason: 'out-of-memory' });
    this.batchSize = to;
    this.optimizer.dispose();
    this.optimizer = createAdam(this.settings.learningRate);
    await ctx.store.restore(ctx.model, this.optimizer);
  }

  private async runEpoch(epoch: number): Promise<void> {
    const { ctx, state, phase, settings } = this;
    const started = now();
    const partial = state.partial?.epoch === epoch ? state.partial : null;
    const acc: PartialEpoch = partial
      ? { ...partial }
      : { epoch, batchesDone: 0, lossSum: 0, correct: 0, seen: 0, trainMs: 0, elapsedMs: 0 };
    const stream = this.trainStream();
    const streamEpoch = epoch - 1;
    const batches = this.caches.train
      ? cachedBatches(this.caches.train, stream.epochOrder(streamEpoch), this.batchSize, acc.batchesDone)
      : stream.batches(streamEpoch, { startBatch: acc.batchesDone });
    const step = (batch: { x: Float32Array; y: Int32Array; size: number }): StepResult => {
      if (this.caches.train) return featureTrainStep(this.head, this.optimizer, this.variables, batch, this.featureDim);
      if (this.stepKind === 'inference') {
        const features = extractFeatures(this.extractor!, batch.x, batch.size, ctx.config.imageSize);
        return featureTrainStep(this.head, this.optimizer, this.variables, { ...batch, x: features }, this.featureDim);
      }
      return imageTrainStep(ctx.model, this.optimizer, this.variables, batch, ctx.config.imageSize);
    };

    const resumedAt = acc.batchesDone;
    for await (const batch of batches) {
      this.checkCancelled();
      if (ctx.interrupt?.aborted) {
        // The checkpoint already holds this point unless batches ran since (then save where we are).
        if (acc.batchesDone > resumedAt) {
          state.partial = { ...acc, elapsedMs: acc.elapsedMs + (now() - started) };
          this.recordSkipped(stream);
          await this.checkpoint();
        }
        throw new TrainingInterruptedError(ctx.workDir, phase, epoch, acc.batchesDone);
      }
      ctx.dropout.prepareStep(ctx.config.seed, phase, epoch, batch.index);
      const t = now();
      const result = step(batch);
      acc.trainMs += now() - t;
      if (!Number.isFinite(result.loss)) {
        throw new TrainingDivergedError(phase, epoch, batch.index + 1, settings.learningRate);
      }
      acc.lossSum += result.loss * batch.size;
      acc.correct += result.correct;
      acc.seen += batch.size;
      acc.batchesDone = batch.index + 1;
      ctx.emit({
        type: 'batch',
        phase,
        epoch,
        batch: batch.index + 1,
        batches: stream.batchesPerEpoch,
        loss: result.loss,
      });
    }
    this.recordSkipped(stream);

    if (trainModeBatchNorms(ctx.model).length > 0) {
      await recalibrateBatchNorm(ctx.model, this.recalibrationBatches(), ctx.config.imageSize, ctx.dropout, {
        maxImages: ctx.bnRecalibrationImages,
        signal: ctx.signal,
        onCancel: () => new TrainingCancelledError(phase),
      });
    }
    const val = await this.validate();
    const durationMs = acc.elapsedMs + (now() - started);
    const entry: HistoryEntry = {
      phase,
      epoch,
      loss: acc.seen > 0 ? acc.lossSum / acc.seen : NaN,
      accuracy: acc.seen > 0 ? acc.correct / acc.seen : 0,
      valLoss: val?.loss ?? null,
      valAccuracy: val?.accuracy ?? null,
      durationMs,
      imagesPerSecond: acc.trainMs > 0 ? (acc.seen * 1000) / acc.trainMs : 0,
    };
    state.history.push(entry);
    state.epochsDone = epoch;
    state.partial = null;
    state.phaseMs[phase] += durationMs;

    const earlyStopping = 'earlyStopping' in settings ? settings.earlyStopping : false;
    if (earlyStopping && state.earlyStopping && val) {
      const update = updateEarlyStopping(state.earlyStopping, earlyStopping, epoch, val.loss);
      state.earlyStopping = update.state;
      if (update.decision === 'improved') {
        const tag = `${phase}-${epoch}`;
        await ctx.store.saveBest(ctx.model, tag);
        state.bestTag = tag;
      }
      if (update.decision === 'stop') ctx.log('info', `early stopping after epoch ${epoch}`, { ...update.state });
    }
    await this.checkpoint();
    ctx.emit({ type: 'epoch', epochs: settings.epochs, ...entry });
    ctx.log('info', `${phase} epoch ${epoch}/${settings.epochs}`, { ...entry });
  }

  private recordSkipped(stream: BatchStream): void {
    const known = new Set(this.state.trainingSkipped.map((s) => s.path));
    for (const skipped of stream.skipped) if (!known.has(skipped.path)) this.state.trainingSkipped.push(skipped);
  }

  /** Unaugmented training images in file order, in the largest batches the memory estimate allows. */
  private recalibrationBatches(): AsyncIterable<{ x: Float32Array; size: number }> {
    const { ctx } = this;
    const cap = Math.min(ctx.bnRecalibrationImages, ctx.dataset.train.length, maxRecalibrationBatch);
    const batchSize = largestFittingBatch(modelMemoryProfile(ctx.model), 'forward', Math.max(1, cap));
    return createBatchStream({
      items: ctx.dataset.train,
      numClasses: ctx.dataset.classes.length,
      imageSize: ctx.config.imageSize,
      batchSize,
      shuffle: false,
      seed: 0,
      augmentation: false,
    }).batches(0);
  }

  /** Validation loss and accuracy with the current weights, or null without validation images. */
  private async validate(): Promise<{ loss: number; accuracy: number } | null> {
    const { ctx } = this;
    if (ctx.dataset.val.length === 0) return null;
    const { probabilities, labels } = this.caches.val
      ? collect(allCachedBatches(this.caches.val, 256), (b) => predictFeatures(this.head, b.x, b.size, this.featureDim))
      : await predictDataset(ctx, this.batchSize, () => this.checkCancelled());
    const evaluation = evaluatePredictions(probabilities, labels, ctx.dataset.classes);
    return { loss: evaluation.loss, accuracy: evaluation.accuracy };
  }

  /** Early stopping: put the best epoch's weights back when the phase did not end on it. */
  private async restoreBestWeights(): Promise<void> {
    const { state, ctx } = this;
    const best = state.earlyStopping?.bestEpoch;
    if (this.phase !== 'finetune' || !state.bestTag || best == null) return;
    const last = state.history.filter((h) => h.phase === 'finetune').at(-1)?.epoch;
    if (best === last) return;
    await ctx.store.restoreBest(ctx.model, state.bestTag);
    state.restoredBestEpoch = best;
    ctx.log('info', `restored the weights of finetune epoch ${best} (lowest validation loss)`);
  }
}
