import { tf } from '../compute/tf.js';
import { resolveTrainingConfig, type ResolvedTrainingConfig, type TrainingConfig } from '../schemas/training-config.js';
import { writeArtifact } from './artifact-writer.js';
import { CheckpointStore } from './checkpoint-store.js';
import { DropoutControl } from './dropout-control.js';
import { createAdam } from './fused-adam.js';
import { evaluatePredictions, type Evaluation } from './evaluation.js';
import { buildTrainingModel, loadImagenetWeights, type WeightsSourceInfo } from './model-setup.js';
import { PhaseRunner, type PhaseContext } from './phase-runner.js';
import { predictDataset } from './validation-predictions.js';
import { setInferenceMode } from './phase-setup.js';
import type { TrainingLogger, TrainingProgressEvent } from './progress-events.js';
import { metadataFormatVersion, preprocessing, type TrainedModelMetadata } from './trained-model-metadata.js';
import { initialTrainerState, trainerStateVersion, type TrainerState } from './trainer-state.js';
import { prepareTrainingDataset, summarizeDataset, type TrainingDataset } from './training-dataset.js';
import { CheckpointMismatchError, TrainingCancelledError } from './training-errors.js';

/**
 * The two-phase transfer-learning schedule of the Keras guide, on a folder of images:
 *   1. head: the base frozen, a new classifier trained with Adam(head.learningRate);
 *   2. finetune (optional): all or the top blocks unfrozen, a new Adam(finetune.learningRate), early
 *      stopping on the validation loss that restores the best epoch's weights;
 * then evaluation on the validation set and the artifact (tfjs layers model + metadata.json).
 *
 * A custom loop over the batch stream (not fitDataset) so that progress, cancellation between batches,
 * checkpoints after every epoch and determinism are in our hands. See phase-runner.ts for the loop,
 * dropout-control.ts for seeded dropout, bn-recalibration.ts for BN statistics in 'train' mode,
 * feature-cache.ts for the phase-1 cache, checkpoint-store.ts for the checkpoint layout.
 *
 * The tfjs backend must be selected (selectBackend) before calling this.
 */

export interface TrainTwoPhaseOptions {
  /** A TrainingConfig (defaults are filled) or an already resolved one. */
  config: TrainingConfig | ResolvedTrainingConfig;
  /** Dataset folder: one sub-folder per class, or train/ + val/. */
  datasetDir: string;
  /** Checkpoints (private to this run; reused by resume). */
  workDir: string;
  /** Where the artifact goes; replaced atomically at the end. */
  outputDir: string;
  /** WEIGHTS_DIR, holding efficientnetb{N}_notop.h5 for weights 'imagenet'. */
  weightsDir: string;
  /** Check the .h5 file's md5 against Keras' published one (WEIGHTS_VERIFY). Default true. */
  weightsVerify?: boolean;
  /** Continue from the checkpoint in workDir if there is one (else start fresh). */
  resume?: boolean;
  /** Cancels: stops before the next batch and throws TrainingCancelledError, saving nothing more. */
  signal?: AbortSignal;
  /** Pauses: finishes the current batch, saves a checkpoint there, throws TrainingInterruptedError. */
  interrupt?: AbortSignal;
  onProgress?: (event: TrainingProgressEvent) => void;
  log?: TrainingLogger;
  /** Phase-1 feature cache (when applicable, see feature-cache.ts). Default true. */
  featureCache?: boolean;
  /** Engine that fills the phase-1 feature cache: onnxruntime when it loads ('auto', default), or tfjs. */
  featureEngine?: 'auto' | 'tfjs';
  /** Most training images the precise-BN pass uses after each 'train'-mode epoch. Default 1024. */
  bnRecalibrationImages?: number;
}

export interface TrainTwoPhaseResult {
  artifactDir: string;
  metadata: TrainedModelMetadata;
}

export async function trainTwoPhase(options: TrainTwoPhaseOptions): Promise<TrainTwoPhaseResult> {
  const started = performance.now();
  const emit = options.onProgress ?? (() => {});
  const log: TrainingLogger = options.log ?? (() => {});
  const checkCancelled = () => {
    if (options.signal?.aborted) throw new TrainingCancelledError();
  };
  // Validate the config before the (possibly long) dataset inspection.
  let config = resolveTrainingConfig(options.config);

  emit({ type: 'stage', stage: 'inspecting-dataset' });
  const dataset = await prepareTrainingDataset(options.datasetDir, {
    validationSplit: config.validationSplit,
    seed: config.seed,
  });
  config = resolveTrainingConfig(config, { numClasses: dataset.classes.length });
  checkCancelled();
  log('info', 'dataset ready', {
    classes: dataset.classes.length,
    train: dataset.train.length,
    val: dataset.val.length,
    skipped: dataset.report.skipped.length,
  });

  emit({ type: 'stage', stage: 'building-model' });
  const model = buildTrainingModel(config, dataset.classes.length);
  try {
    const dropout = new DropoutControl(model);
    const store = new CheckpointStore<TrainerState>(options.workDir);
    const configKey = JSON.stringify(config);
    let state: TrainerState;
    let resumed = false;
    if (options.resume && (await store.hasCheckpoint())) {
      emit({ type: 'stage', stage: 'resuming' });
      state = (await store.readState())!;
      checkResumable(state, options.workDir, configKey, dataset);
      await store.restore(model);
      resumed = true;
      log('info', 'resuming', { phase: state.phase, epochsDone: state.epochsDone, batch: state.partial?.batchesDone });
    } else {
      await store.clear();
      let weights: WeightsSourceInfo = { source: 'none' };
      if (config.weights === 'imagenet') {
        emit({ type: 'stage', stage: 'loading-weights' });
        weights = await loadImagenetWeights(model, config, options.weightsDir, options.weightsVerify ?? true);
      }
      state = initialTrainerState(configKey, dataset.fingerprint, config.seed, weights);
    }
    checkCancelled();

    const ctx: PhaseContext = {
      model,
      config,
      dataset,
      store,
      state,
      dropout,
      workDir: options.workDir,
      featureCache: options.featureCache ?? true,
      featureEngine: options.featureEngine ?? 'auto',
      bnRecalibrationImages: options.bnRecalibrationImages ?? 1024,
      signal: options.signal,
      interrupt: options.interrupt,
      emit,
      log,
    };
    if (!state.finished) {
      if (state.phase === 'head' && config.head.epochs > 0) await new PhaseRunner(ctx, 'head', config.head).run();
      if (config.finetune && config.finetune.epochs > 0) {
        await new PhaseRunner(ctx, 'finetune', config.finetune).run();
      }
      state.finished = true;
      state.partial = null;
      const optimizer = createAdam();
      try {
        await store.save(state, model, optimizer, state.bestTag ? [state.bestTag] : []);
      } finally {
        optimizer.dispose();
      }
    }

    dropout.restore();
    setInferenceMode(model);
    emit({ type: 'stage', stage: 'evaluating' });
    const evaluationStarted = performance.now();
    const evaluation = await evaluate(ctx, checkCancelled);
    const evaluationMs = performance.now() - evaluationStarted;

    const metadata = buildMetadata(config, dataset, state, evaluation, {
      total: performance.now() - started,
      evaluation: evaluationMs,
      resumed,
      featureDim: (model.getLayer('avg_pool').outputShape as number[])[1]!,
    });
    checkCancelled();
    emit({ type: 'stage', stage: 'writing-artifact' });
    const artifactDir = await writeArtifact(model, metadata, options.outputDir);
    log('info', 'artifact written', { artifactDir, accuracy: evaluation?.accuracy });
    return { artifactDir, metadata };
  } finally {
    model.dispose();
  }
}

function checkResumable(state: TrainerState, workDir: string, configKey: string, dataset: TrainingDataset): void {
  if (state.version !== trainerStateVersion) {
    throw new CheckpointMismatchError(workDir, `checkpoint format ${state.version}, expected ${trainerStateVersion}`);
  }
  if (state.configKey !== configKey) {
    throw new CheckpointMismatchError(workDir, 'it was written with a different training config');
  }
  if (state.datasetKey !== dataset.fingerprint) {
    throw new CheckpointMismatchError(workDir, 'the dataset (files, classes or split) changed since it was written');
  }
}

async function evaluate(ctx: PhaseContext, checkCancelled: () => void): Promise<Evaluation | null> {
  if (ctx.dataset.val.length === 0) return null;
  const batchSize = Math.max(ctx.state.batchSizes.finetune ?? ctx.state.batchSizes.head ?? 8, 8);
  const { probabilities, labels } = await predictDataset(ctx, batchSize, checkCancelled);
  return evaluatePredictions(probabilities, labels, ctx.dataset.classes);
}

function buildMetadata(
  config: ResolvedTrainingConfig,
  dataset: TrainingDataset,
  state: TrainerState,
  evaluation: Evaluation | null,
  extra: { total: number; evaluation: number; resumed: boolean; featureDim: number },
): TrainedModelMetadata {
  return {
    formatVersion: metadataFormatVersion,
    createdAt: new Date().toISOString(),
    classes: dataset.classes,
    architecture: config.architecture,
    imageSize: config.imageSize,
    numClasses: dataset.classes.length,
    featureLayer: 'avg_pool',
    featureDim: extra.featureDim,
    preprocessing,
    weights: state.weights,
    config,
    batchSizes: state.batchSizes,
    parameters: state.parameters,
    history: state.history,
    earlyStopping: state.earlyStopping ? { ...state.earlyStopping, restoredBestEpoch: state.restoredBestEpoch } : null,
    evaluation,
    backend: tf.getBackend(),
    durationsMs: {
      total: Math.round(extra.total),
      head: Math.round(state.phaseMs.head),
      finetune: Math.round(state.phaseMs.finetune),
      featureCache: Math.round(state.featureCacheMs),
      evaluation: Math.round(extra.evaluation),
    },
    featureCache: { used: state.featureCacheImages > 0, images: state.featureCacheImages },
    dataset: summarizeDataset(dataset),
    trainingSkipped: state.trainingSkipped,
    batchSizeReductions: state.batchSizeReductions,
    resumed: extra.resumed,
  };
}
