import type { LayersModel } from '../compute/tf.js';
import { BatchNormalization, type BatchNormMode } from '../model/batch-normalization.js';
import { configurePhase, type TrainingPhase } from '../model/training-phase.js';

/**
 * configurePhase() plus one rule of ours: a BatchNormalization layer that is frozen (outside the unfrozen
 * blocks) always runs in inference mode, as Keras 3 runs frozen BN layers. configurePhase gives every BN
 * layer the phase's mode, which with `unfreeze: 'block6a'` and bnMode 'train' would make the frozen lower
 * blocks normalise with batch statistics and move their moving statistics.
 */
export function setUpPhase(
  model: LayersModel,
  phase: TrainingPhase,
  bnMode: BatchNormMode,
  unfreeze: string | undefined,
): void {
  configurePhase(model, { phase, bnMode, unfreeze: phase === 'finetune' ? unfreeze : undefined });
  for (const layer of model.layers) {
    if (layer instanceof BatchNormalization && !layer.trainable) layer.mode = 'inference';
  }
}

/** BatchNormalization layers currently normalising with batch statistics during training. */
export function trainModeBatchNorms(model: LayersModel): BatchNormalization[] {
  return model.layers.filter((l): l is BatchNormalization => l instanceof BatchNormalization && l.mode === 'train');
}

/** Puts every BN layer in inference mode (what the saved model should carry). */
export function setInferenceMode(model: LayersModel): void {
  for (const layer of model.layers) if (layer instanceof BatchNormalization) layer.mode = 'inference';
}
