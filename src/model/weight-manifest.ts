import type { ArchitectureSpec } from './architectures.js';
import { efficientNetLayout, type EfficientNetLayout } from './efficientnet-blocks.js';

/**
 * Every weight the Keras model has, in Keras' layer order and per-layer weight order, derived from the
 * block layout alone (no tfjs). The parameter summaries count from this list; a test checks it equals the
 * built tfjs model weight for weight.
 */

/** `trainable` weights can be frozen; `moving` are BN statistics (never trained); `constant` is the stem normalisation. */
export type WeightRole = 'trainable' | 'moving' | 'constant';
export type WeightedLayerKind = 'normalization' | 'conv' | 'depthwise' | 'batchnorm' | 'dense';

export interface WeightEntry {
  layer: string;
  weight: string;
  shape: number[];
  role: WeightRole;
  layerKind: WeightedLayerKind;
}

export interface WeightManifestOptions {
  numClasses: number;
  includeHead?: boolean;
  dropConnectRate?: number;
}

export function weightManifest(
  arch: Pick<ArchitectureSpec, 'widthCoefficient' | 'depthCoefficient'>,
  options: WeightManifestOptions,
): WeightEntry[] {
  return manifestFromLayout(efficientNetLayout(arch, options.dropConnectRate), options);
}

export function manifestFromLayout(layout: EfficientNetLayout, options: WeightManifestOptions): WeightEntry[] {
  const entries: WeightEntry[] = [];
  const push = (layer: string, layerKind: WeightedLayerKind, weights: [string, number[], WeightRole][]) => {
    for (const [weight, shape, role] of weights) entries.push({ layer, weight, shape, role, layerKind });
  };
  const conv = (layer: string, k: number, cin: number, cout: number, bias: boolean) =>
    push(layer, 'conv', [
      ['kernel', [k, k, cin, cout], 'trainable'],
      ...(bias ? [['bias', [cout], 'trainable'] as [string, number[], WeightRole]] : []),
    ]);
  const bn = (layer: string, c: number) =>
    push(layer, 'batchnorm', [
      ['gamma', [c], 'trainable'],
      ['beta', [c], 'trainable'],
      ['moving_mean', [c], 'moving'],
      ['moving_variance', [c], 'moving'],
    ]);

  push('normalization', 'normalization', [
    ['mean', [3], 'constant'],
    ['variance', [3], 'constant'],
    ['count', [], 'constant'],
  ]);
  conv('stem_conv', 3, 3, layout.stemFilters, false);
  bn('stem_bn', layout.stemFilters);
  for (const block of layout.blocks) {
    const p = `${block.name}_`;
    if (block.expandRatio !== 1) {
      conv(`${p}expand_conv`, 1, block.filtersIn, block.expandedFilters, false);
      bn(`${p}expand_bn`, block.expandedFilters);
    }
    push(`${p}dwconv`, 'depthwise', [
      ['depthwise_kernel', [block.kernelSize, block.kernelSize, block.expandedFilters, 1], 'trainable'],
    ]);
    bn(`${p}bn`, block.expandedFilters);
    conv(`${p}se_reduce`, 1, block.expandedFilters, block.seFilters, true);
    conv(`${p}se_expand`, 1, block.seFilters, block.expandedFilters, true);
    conv(`${p}project_conv`, 1, block.expandedFilters, block.filtersOut, false);
    bn(`${p}project_bn`, block.filtersOut);
  }
  const last = layout.blocks[layout.blocks.length - 1]!;
  conv('top_conv', 1, last.filtersOut, layout.topFilters, false);
  bn('top_bn', layout.topFilters);
  if (options.includeHead ?? true) {
    push('predictions', 'dense', [
      ['kernel', [layout.topFilters, options.numClasses], 'trainable'],
      ['bias', [options.numClasses], 'trainable'],
    ]);
  }
  return entries;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
