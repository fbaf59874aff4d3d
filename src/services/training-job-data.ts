import type { ParameterSummary } from '../model/parameter-summary.js';
import type { CreateJobBody } from '../schemas/jobs.js';
import type { HistoryEntry } from '../training/training-history.js';

/** What the api puts in a BullMQ training job. */
export interface TrainingJobData {
  datasetId: string;
  /** The body as submitted (defaults are resolved by the trainer, so a retry resolves them the same way). */
  request: CreateJobBody;
  /** Who submitted it, for JOBS_MAX_ACTIVE_PER_KEY: an API key digest or 'anonymous' (see jobOwner). */
  owner?: string;
  createdAt: string;
}

/** What the worker reports through job.updateProgress(): the running job's state, replaced as a whole. */
export interface TrainingJobProgress {
  phase: 'head' | 'finetune' | null;
  stage: string | null;
  epoch: number;
  epochs: number;
  /** Fraction of all planned epochs finished. */
  progress: number;
  history: HistoryEntry[];
  summary: { head?: ParameterSummary; finetune?: ParameterSummary };
  /** The event that caused this update, so event streams can name it (batch, epoch, phase, stage). */
  event: { type: string; batch?: number; batches?: number; loss?: number } | null;
}

/** What a completed training job returns. */
export interface TrainingJobResult {
  modelId: string;
}

export function emptyProgress(): TrainingJobProgress {
  return { phase: null, stage: null, epoch: 0, epochs: 0, progress: 0, history: [], summary: {}, event: null };
}
