/**
 * Keras' EarlyStopping(monitor='val_loss', mode='min', restore_best_weights=True) as a serialisable state
 * machine: an epoch improves when valLoss < best - minDelta; after `patience` epochs in a row without
 * improvement training stops. The state goes into every checkpoint, so a resumed run stops at the same
 * epoch as an uninterrupted one.
 *
 * One difference from Keras: the trainer restores the best epoch's weights at the end of the phase
 * whether or not it stopped early (Keras only restores when it stops), so the saved model is always the
 * one with the lowest validation loss.
 */

export interface EarlyStoppingSettings {
  patience: number;
  minDelta: number;
}

export interface EarlyStoppingState {
  /** Lowest validation loss so far, or null before the first epoch. */
  bestValLoss: number | null;
  /** 1-based epoch of bestValLoss. */
  bestEpoch: number | null;
  /** Epochs since the last improvement. */
  wait: number;
  /** Epoch at which training stopped early, or null. */
  stoppedEpoch: number | null;
}

export type EarlyStoppingDecision = 'improved' | 'continue' | 'stop';

export function initialEarlyStoppingState(): EarlyStoppingState {
  return { bestValLoss: null, bestEpoch: null, wait: 0, stoppedEpoch: null };
}

/** The new state after `epoch` (1-based) ended with `valLoss`, and what the trainer should do. */
export function updateEarlyStopping(
  state: EarlyStoppingState,
  settings: EarlyStoppingSettings,
  epoch: number,
  valLoss: number,
): { state: EarlyStoppingState; decision: EarlyStoppingDecision } {
  if (state.bestValLoss === null || valLoss < state.bestValLoss - settings.minDelta) {
    return { state: { ...state, bestValLoss: valLoss, bestEpoch: epoch, wait: 0 }, decision: 'improved' };
  }
  const wait = state.wait + 1;
  if (wait >= settings.patience) return { state: { ...state, wait, stoppedEpoch: epoch }, decision: 'stop' };
  return { state: { ...state, wait }, decision: 'continue' };
}
