import type { ParameterSummary } from '../model/parameter-summary.js';
import type { TrainingPhase } from '../model/training-phase.js';
import type { HistoryEntry } from './training-history.js';

/** What a phase is about to do; sent once when it starts (also when it resumes). */
export interface PhaseSummary {
  epochs: number;
  /** First epoch this run will execute (greater than 1 after a resume). */
  startEpoch: number;
  batchSize: number;
  learningRate: number;
  bnMode: 'inference' | 'train';
  unfreeze?: string;
  parameters: ParameterSummary;
  trainImages: number;
  valImages: number;
  /** Phase 1 trains on cached avg_pool features instead of running the frozen base every step. */
  featureCache: boolean;
}

/** Steps before training proper, so a caller can show what a long pause is. */
export type TrainingStage =
  | 'inspecting-dataset'
  | 'building-model'
  | 'loading-weights'
  | 'resuming'
  | 'caching-features'
  | 'evaluating'
  | 'writing-artifact';

export type TrainingProgressEvent =
  | { type: 'stage'; stage: TrainingStage; detail?: string }
  | { type: 'phase'; phase: TrainingPhase; summary: PhaseSummary }
  /** After every optimizer step; `batch` is 1-based, `loss` that batch's mean loss. Throttling is the caller's. */
  | { type: 'batch'; phase: TrainingPhase; epoch: number; batch: number; batches: number; loss: number }
  | ({ type: 'epoch'; epochs: number } & HistoryEntry);

export type TrainingLogLevel = 'debug' | 'info' | 'warn';

/** Minimal logger; adapt pino with `(level, msg, data) => logger[level](data ?? {}, msg)`. */
export type TrainingLogger = (level: TrainingLogLevel, message: string, data?: Record<string, unknown>) => void;
