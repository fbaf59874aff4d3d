import type { LayersModel } from '../compute/tf.js';
import { getArchitecture, type ArchitectureName, type ArchitectureSpec } from './architectures.js';
import type { BatchNormMode } from './batch-normalization.js';
import { efficientNetLayout } from './efficientnet-blocks.js';
import { StemNormalization } from './stem-normalization.js';
import { layerTrainability, parseUnfreeze, UnknownBlockError, type PhaseOptions } from './training-phase.js';
import { manifestFromLayout, sizeOf } from './weight-manifest.js';

/**
 * Parameter counts as Keras' model.summary() reports them, minus the 7 constants of the `normalization`
 * layer (mean, variance, count), which are neither trainable nor learned.
 */
export interface ParameterSummary {
  total: number;
  trainable: number;
  nonTrainable: number;
}

export interface PhaseSummaries {
  head: ParameterSummary;
  finetune: ParameterSummary;
}

export interface PhaseSummaryOptions {
  /** BN mode of the head phase; 'train' makes every gamma and beta trainable. Default 'inference'. */
  headBnMode?: BatchNormMode;
  /** Finetune unfreeze point, 'all' (default) or a block name like 'block6a'. */
  unfreeze?: 'all' | string;
}

type Layer = LayersModel['layers'][number];

/** Counts a built model's parameters with its current trainable flags. */
export function parameterSummary(model: LayersModel): ParameterSummary {
  const summary = { total: 0, trainable: 0, nonTrainable: 0 };
  const visit = (layers: Layer[], containerTrainable: boolean) => {
    for (const layer of layers) {
      if (layer instanceof StemNormalization) continue;
      const nested = (layer as Partial<LayersModel>).layers;
      if (nested) {
        visit(nested, containerTrainable && layer.trainable);
        continue;
      }
      const trainable = containerTrainable ? layer.trainableWeights : [];
      const trainableSize = trainable.reduce((sum, w) => sum + weightSize(w), 0);
      const allSize = layer.weights.reduce((sum, w) => sum + weightSize(w), 0);
      summary.trainable += trainableSize;
      summary.nonTrainable += allSize - trainableSize;
    }
  };
  visit(model.layers, model.trainable);
  summary.total = summary.trainable + summary.nonTrainable;
  return summary;
}

function weightSize(weight: { shape: readonly (number | null)[] }): number {
  return weight.shape.reduce<number>((a, b) => a * (b ?? 0), 1);
}

/**
 * The head- and finetune-phase counts of an architecture with a `numClasses` classifier, derived from the
 * block layout without building or allocating the model (cheap even for B7).
 */
export function phaseSummaries(
  architecture: ArchitectureName | string | ArchitectureSpec,
  numClasses: number,
  options: PhaseSummaryOptions = {},
): PhaseSummaries {
  return {
    head: predictedSummary(architecture, numClasses, { phase: 'head', bnMode: options.headBnMode ?? 'inference' }),
    finetune: predictedSummary(architecture, numClasses, {
      phase: 'finetune',
      bnMode: 'inference',
      unfreeze: options.unfreeze,
    }),
  };
}

/** The counts configurePhase(model, options) will produce on buildEfficientNet({ architecture, numClasses }). */
export function predictedSummary(
  architecture: ArchitectureName | string | ArchitectureSpec,
  numClasses: number,
  options: PhaseOptions,
): ParameterSummary {
  const arch = typeof architecture === 'string' ? getArchitecture(architecture) : architecture;
  const layout = efficientNetLayout(arch);
  const unfreeze = options.unfreeze ?? 'all';
  if (options.phase === 'finetune' && unfreeze !== 'all') {
    parseUnfreeze(unfreeze);
    if (!layout.blocks.some((b) => b.name === unfreeze)) throw new UnknownBlockError(unfreeze);
  }
  const summary = { total: 0, trainable: 0, nonTrainable: 0 };
  for (const entry of manifestFromLayout(layout, { numClasses })) {
    if (entry.role === 'constant') continue;
    const size = sizeOf(entry.shape);
    const trains =
      entry.role === 'trainable' && layerTrainability(entry.layer, entry.layerKind === 'batchnorm', options);
    if (trains) summary.trainable += size;
    else summary.nonTrainable += size;
  }
  summary.total = summary.trainable + summary.nonTrainable;
  return summary;
}
