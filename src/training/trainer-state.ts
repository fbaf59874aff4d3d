import type { ParameterSummary } from '../model/parameter-summary.js';
import type { TrainingPhase } from '../model/training-phase.js';
import type { EarlyStoppingState } from './early-stopping.js';
import type { WeightsSourceInfo } from './model-setup.js';
import type { HistoryEntry } from './training-history.js';

/**
 * Everything besides weights and optimizer state that a checkpoint must hold for a resumed run to
 * continue exactly like an uninterrupted one. There is no RNG state to save: every random stream (epoch
 * order, augmentation, dropout masks) is derived from the run's seed and the (phase, epoch, batch)
 * counters, which are saved here.
 */

export const trainerStateVersion = 1;

/** A batch size made smaller than asked: before the phase by the memory estimate, or after an OOM. */
export interface BatchSizeReduction {
  phase: string;
  /** Epoch being retried, or 0 when the estimate reduced it before the phase. */
  epoch: number;
  fromBatchSize: number;
  toBatchSize: number;
  reason: 'memory-estimate' | 'out-of-memory';
}

/** Accumulators of an epoch that was interrupted between batches. */
export interface PartialEpoch {
  /** 1-based epoch in its phase. */
  epoch: number;
  batchesDone: number;
  lossSum: number;
  correct: number;
  seen: number;
  trainMs: number;
  elapsedMs: number;
}

export interface TrainerState {
  version: typeof trainerStateVersion;
  /** JSON of the resolved config and the dataset fingerprint: resume refuses anything else. */
  configKey: string;
  datasetKey: string;
  /** The phase in progress, or the next to start. */
  phase: TrainingPhase;
  /** Completed epochs of `phase`. */
  epochsDone: number;
  partial: PartialEpoch | null;
  /** Both phases are done; only evaluation and the artifact remain. */
  finished: boolean;
  batchSizes: { head?: number; finetune?: number };
  parameters: { head?: ParameterSummary; finetune?: ParameterSummary };
  history: HistoryEntry[];
  earlyStopping: EarlyStoppingState | null;
  /** Tag of the best-weights file in workDir (early stopping), or null. */
  bestTag: string | null;
  restoredBestEpoch: number | null;
  phaseMs: { head: number; finetune: number };
  featureCacheMs: number;
  featureCacheImages: number;
  weights: WeightsSourceInfo;
  trainingSkipped: Array<{ path: string; reason: string }>;
  batchSizeReductions: BatchSizeReduction[];
  /** How the random streams are derived (documentation for whoever reads a checkpoint). */
  rng: { seed: number; derivation: string };
}

export function initialTrainerState(
  configKey: string,
  datasetKey: string,
  seed: number,
  weights: WeightsSourceInfo,
): TrainerState {
  return {
    version: trainerStateVersion,
    configKey,
    datasetKey,
    phase: 'head',
    epochsDone: 0,
    partial: null,
    finished: false,
    batchSizes: {},
    parameters: {},
    history: [],
    earlyStopping: null,
    bestTag: null,
    restoredBestEpoch: null,
    phaseMs: { head: 0, finetune: 0 },
    featureCacheMs: 0,
    featureCacheImages: 0,
    weights,
    trainingSkipped: [],
    batchSizeReductions: [],
    rng: {
      seed,
      derivation:
        'epoch order: deriveSeed(deriveSeed(seed, "train", phase), epoch-1, "order"); augmentation: ' +
        '(…, epoch-1, position, "augment"); dropout: deriveSeed(seed, "dropout", phase, epoch, batch, layer)',
    },
  };
}
