import type { ParameterSummary } from '../model/parameter-summary.js';
import type { ResolvedTrainingConfig } from '../schemas/training-config.js';
import type { EarlyStoppingState } from './early-stopping.js';
import type { Evaluation } from './evaluation.js';
import type { WeightsSourceInfo } from './model-setup.js';
import type { DatasetSummary } from './training-dataset.js';
import type { BatchSizeReduction } from './trainer-state.js';
import type { HistoryEntry } from './training-history.js';

/** metadata.json beside model.json in a trained-model artifact. */

export const metadataFileName = 'metadata.json';
export const metadataFormatVersion = 1;

/** How a caller must turn an image into the model's input (the same as training did). */
export const preprocessing = {
  colorSpace: 'RGB',
  layout: 'NHWC',
  range: [0, 255],
  resize: 'bilinear',
  note:
    'Float RGB pixels in 0..255, no scaling: the model rescales and normalises itself. Decode with EXIF ' +
    'orientation applied and alpha composited onto black, then resize to imageSize × imageSize with a bilinear ' +
    'filter, not keeping the aspect ratio (src/data/image-decode.ts does exactly this).',
} as const;

export interface TrainedModelMetadata {
  formatVersion: typeof metadataFormatVersion;
  createdAt: string;
  /** Class names in output index order. */
  classes: string[];
  architecture: ResolvedTrainingConfig['architecture'];
  imageSize: number;
  numClasses: number;
  /** Layer whose output /features returns, and its width. */
  featureLayer: 'avg_pool';
  featureDim: number;
  preprocessing: typeof preprocessing;
  weights: WeightsSourceInfo;
  config: ResolvedTrainingConfig;
  /** Effective batch sizes ('auto' resolved, after any out-of-memory halving). */
  batchSizes: { head?: number; finetune?: number };
  parameters: { head?: ParameterSummary; finetune?: ParameterSummary };
  history: HistoryEntry[];
  earlyStopping: (EarlyStoppingState & { restoredBestEpoch: number | null }) | null;
  /** On the validation set with the saved weights; null without validation images. */
  evaluation: Evaluation | null;
  backend: string;
  durationsMs: { total: number; head: number; finetune: number; featureCache: number; evaluation: number };
  featureCache: { used: boolean; images: number };
  dataset: DatasetSummary;
  /** Images that failed to decode during training (after passing inspection); normally empty. */
  trainingSkipped: Array<{ path: string; reason: string }>;
  batchSizeReductions: BatchSizeReduction[];
  /** Whether this run continued from a checkpoint. */
  resumed: boolean;
}
