// The trainer's public API: what the worker, the HTTP layer and the CLI import.
export { trainTwoPhase, type TrainTwoPhaseOptions, type TrainTwoPhaseResult } from './two-phase-trainer.js';
export { loadTrainedModel, readTrainedModelMetadata, type TrainedModel } from './trained-model.js';
export type { TrainedModelMetadata } from './trained-model-metadata.js';
export { preprocessing } from './trained-model-metadata.js';
export type {
  PhaseSummary,
  TrainingLogger,
  TrainingLogLevel,
  TrainingProgressEvent,
  TrainingStage,
} from './progress-events.js';
export type { HistoryEntry } from './training-history.js';
export type { Evaluation, ClassMetrics } from './evaluation.js';
export { hasImagenetWeights } from './model-setup.js';
export {
  CheckpointCorruptError,
  CheckpointMismatchError,
  ImagenetWeightsMissingError,
  OutOfMemoryError,
  TrainedModelFormatError,
  TrainingCancelledError,
  TrainingDivergedError,
  TrainingInterruptedError,
} from './training-errors.js';
