import type { TrainingPhase } from '../model/training-phase.js';

/** One finished epoch, as the trainer records it in metadata.json and reports through onProgress. */
export interface HistoryEntry {
  phase: TrainingPhase;
  /** 1-based within its phase. */
  epoch: number;
  /** Mean cross-entropy over the epoch's training images (with dropout and augmentation active). */
  loss: number;
  accuracy: number;
  /** null when there is no validation set. */
  valLoss: number | null;
  valAccuracy: number | null;
  /** Wall time of the epoch: training steps, BN re-estimation and validation. */
  durationMs: number;
  /** Training images per second of the training steps alone. */
  imagesPerSecond: number;
}

/** The entry with the lowest validation loss among `entries`, or undefined when none has one. */
export function bestByValLoss(entries: readonly HistoryEntry[]): HistoryEntry | undefined {
  let best: HistoryEntry | undefined;
  for (const entry of entries) {
    if (entry.valLoss === null) continue;
    if (!best || entry.valLoss < best.valLoss!) best = entry;
  }
  return best;
}
