import type { LayersModel } from '../compute/tf.js';
import { BatchNormalization, type BatchNormMode } from './batch-normalization.js';
import { parseBlockName } from './efficientnet-blocks.js';

/**
 * Which layers train in each phase of transfer learning. One rule, layerTrainability(), is shared by
 * configurePhase() (on a built model) and parameter-summary.ts (on the block layout), so the numbers an
 * HTTP route shows are the ones training will see.
 *  - head: the base is frozen and only the layers after `top_activation` train; with bnMode 'train'
 *    every BatchNormalization's gamma and beta train too (and they normalise with batch statistics).
 *  - finetune: everything trains, or with `unfreeze: 'block6a'` that block and every later one plus
 *    top_conv/top_bn and the head. BN moving statistics never train; `bnMode` decides whether they move.
 * The `normalization` constants never train. Recompile the model after changing phases.
 */

export type TrainingPhase = 'head' | 'finetune';

export interface PhaseOptions {
  phase: TrainingPhase;
  bnMode: BatchNormMode;
  /** Finetune only: 'all' (default) or the first block to unfreeze, like 'block6a'. */
  unfreeze?: 'all' | string;
}

export class UnknownBlockError extends Error {
  constructor(readonly block: string) {
    super(`Cannot unfreeze from '${block}': expected 'all' or a block name of this model such as 'block6a'`);
    this.name = 'UnknownBlockError';
  }
}

/** Layers of the base that come before the first block. */
const stemLayers = new Set([
  'input_layer',
  'rescaling',
  'normalization',
  'rescaling_1',
  'stem_conv_pad',
  'stem_conv',
  'stem_bn',
  'stem_activation',
]);
/** Layers of the base that come after the last block. */
const topLayers = new Set(['top_conv', 'top_bn', 'top_activation']);

/** Whether the layer belongs to the Keras base (include_top=False); everything else is the head. */
export function isBaseLayer(name: string): boolean {
  return stemLayers.has(name) || topLayers.has(name) || parseBlockName(name) !== undefined;
}

export function layerTrainability(name: string, isBatchNorm: boolean, options: PhaseOptions): boolean {
  if (name === 'normalization') return false;
  if (!isBaseLayer(name)) return true;
  if (options.phase === 'head') return isBatchNorm && options.bnMode === 'train';
  const unfreeze = options.unfreeze ?? 'all';
  if (unfreeze === 'all') return true;
  if (topLayers.has(name)) return true;
  const from = parseUnfreeze(unfreeze);
  const block = parseBlockName(name);
  if (!block) return false; // stem
  return block.stage > from.stage || (block.stage === from.stage && block.index >= from.index);
}

export function parseUnfreeze(unfreeze: string): { stage: number; index: number } {
  const parsed = /^block\d+[a-z]$/.test(unfreeze) ? parseBlockName(unfreeze) : undefined;
  if (!parsed) throw new UnknownBlockError(unfreeze);
  return parsed;
}

/** Sets `trainable` on every layer and `mode` on every BatchNormalization for the phase. */
export function configurePhase(model: LayersModel, options: PhaseOptions): void {
  const unfreeze = options.unfreeze ?? 'all';
  if (unfreeze !== 'all') {
    parseUnfreeze(unfreeze);
    if (!model.layers.some((l) => l.name.startsWith(`${unfreeze}_`))) throw new UnknownBlockError(unfreeze);
  }
  // A frozen container hides every layer's weights from the optimizer; the per-layer flags decide instead.
  model.trainable = true;
  for (const layer of model.layers) {
    const isBatchNorm = layer instanceof BatchNormalization;
    if (isBatchNorm) layer.mode = options.bnMode;
    layer.trainable = layerTrainability(layer.name, isBatchNorm, options);
  }
}
