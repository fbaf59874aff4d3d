import type { tf } from '../compute/tf.js';
import { BatchNormalization } from '../model/batch-normalization.js';
import { Rescaling } from '../model/rescaling.js';
import { StemNormalization } from '../model/stem-normalization.js';
import { batchNormAffine, normalizationAffine, rescalingAffine } from './channel-affine.js';
import { conv2dWeights, depthwiseConv2dWeights } from './conv-weights.js';
import { UnsupportedLayerConfigError, UnsupportedLayerError } from './onnx-export-errors.js';
import type { OnnxGraphBuilder } from './onnx-graph-builder.js';
import type { EmittedValue, OnnxValue, OnnxValues } from './onnx-values.js';
import { tfSamePadding } from './tf-same-padding.js';

/**
 * One tfjs layer (by class) to ONNX nodes over NCHW values. Only inference semantics are translated:
 * Dropout is the identity and BatchNormalization uses its moving statistics, whatever its mode.
 */

type Layer = tf.layers.Layer;
type Shape = (number | null)[];
type Config = Record<string, unknown>;

export interface LayerInput {
  value: OnnxValue;
  /** tfjs shape, batch first, NHWC. */
  shape: Shape;
  /** Nothing but this layer reads the value, so it may be folded into this layer's output. */
  foldable: boolean;
}

export interface TranslationContext {
  graph: OnnxGraphBuilder;
  values: OnnxValues;
}

export function translateLayer(ctx: TranslationContext, layer: Layer, inputs: LayerInput[]): OnnxValue {
  const className = layer.getClassName();
  const first = inputs[0]!;
  if (layer instanceof Rescaling) {
    const affine = rescalingAffine(channelsOf(layer, first.shape), layer.scale, layer.offset);
    return ctx.values.applyAffine(first.value, affine, layer.name, first.foldable);
  }
  if (layer instanceof StemNormalization) {
    const { mean, variance } = layer.statistics();
    return ctx.values.applyAffine(first.value, normalizationAffine(mean, variance), layer.name, first.foldable);
  }
  if (layer instanceof BatchNormalization) {
    const [gamma, beta, movingMean, movingVariance] = weightData(layer, 4);
    const affine = batchNormAffine({ gamma, beta, movingMean, movingVariance, epsilon: layer.epsilon });
    return ctx.values.applyAffine(first.value, affine, layer.name, first.foldable);
  }
  switch (className) {
    case 'Dropout':
      return first.value;
    case 'Activation':
      return activation(ctx, layer, first.value, String(config(layer)['activation']), layer.name);
    case 'ZeroPadding2D':
      return zeroPadding(ctx, layer, first);
    case 'Conv2D':
    case 'DepthwiseConv2D':
      return convolution(ctx, layer, first);
    case 'GlobalAveragePooling2D':
      return globalAveragePool(ctx, layer, first);
    case 'Reshape':
      return reshape(layer, ctx.values.emit(first.value), first.shape);
    case 'Add':
    case 'Multiply':
      return elementwise(ctx, layer, inputs, className === 'Add' ? 'Add' : 'Mul');
    case 'Dense':
      return dense(ctx, layer, first);
    default:
      throw new UnsupportedLayerError(layer.name, className);
  }
}

/** Activation by its tfjs name, as a layer or fused into Conv2D/Dense; the output is named `outputName`. */
function activation(
  ctx: TranslationContext,
  layer: Layer,
  value: OnnxValue,
  name: string,
  outputName: string,
): OnnxValue {
  if (name === 'linear') return value;
  const x = ctx.values.emit(value);
  const out = (opType: string, attributes = {}): EmittedValue => ({
    ...x,
    name: ctx.graph.addNode(opType, [x.name], outputName, attributes),
  });
  switch (name) {
    case 'relu':
      return out('Relu');
    case 'sigmoid':
      return out('Sigmoid');
    case 'tanh':
      return out('Tanh');
    // The channel axis is 1 in every layout (NCHW, [N, C, 1, 1], [N, C]).
    case 'softmax':
      return out('Softmax', { axis: 1 });
    case 'swish': {
      // x * sigmoid(x): opsets 13..17 have no Swish operator.
      const sigmoid = ctx.graph.addNode('Sigmoid', [x.name], `${outputName}_sigmoid`);
      return { ...x, name: ctx.graph.addNode('Mul', [x.name, sigmoid], outputName) };
    }
    default:
      throw new UnsupportedLayerConfigError(layer.name, layer.getClassName(), `activation '${name}' is not supported`);
  }
}

function zeroPadding(ctx: TranslationContext, layer: Layer, input: LayerInput): OnnxValue {
  requireChannelsLast(layer);
  const [[top, bottom], [left, right]] = zeroPaddingAmounts(layer);
  const x = ctx.values.emit(input.value);
  // Opset >= 11 Pad: amounts are an int64 input ordered [begin of N, C, H, W, end of N, C, H, W].
  const pads = ctx.graph.int64Constant('pads', [0, 0, top, left, 0, 0, bottom, right]);
  return { ...x, name: ctx.graph.addNode('Pad', [x.name, pads], layer.name, { mode: 'constant' }) };
}

function zeroPaddingAmounts(layer: Layer): [[number, number], [number, number]] {
  const padding = config(layer)['padding'];
  if (typeof padding === 'number') {
    return [
      [padding, padding],
      [padding, padding],
    ];
  }
  if (Array.isArray(padding) && padding.length === 2) {
    const [h, w] = padding as (number | number[])[];
    const pair = (p: number | number[]): [number, number] => (Array.isArray(p) ? [p[0]!, p[1]!] : [p, p]);
    return [pair(h!), pair(w!)];
  }
  throw new UnsupportedLayerConfigError(layer.name, 'ZeroPadding2D', `padding ${JSON.stringify(padding)}`);
}

function convolution(ctx: TranslationContext, layer: Layer, input: LayerInput): OnnxValue {
  requireChannelsLast(layer);
  const cfg = config(layer);
  const depthwise = layer.getClassName() === 'DepthwiseConv2D';
  const [kh, kw] = pair(layer, cfg['kernelSize']);
  const [sh, sw] = pair(layer, cfg['strides'] ?? 1);
  const [dh, dw] = pair(layer, cfg['dilationRate'] ?? 1);
  const [, height, width, channels] = input.shape;
  if (height == null || width == null || channels == null) {
    throw new UnsupportedLayerConfigError(layer.name, layer.getClassName(), 'input height and width must be fixed');
  }
  let pads = [0, 0, 0, 0];
  if (cfg['padding'] === 'same') {
    const h = tfSamePadding(height, kh, sh, dh);
    const w = tfSamePadding(width, kw, sw, dw);
    pads = [h.begin, w.begin, h.end, w.end];
  } else if (cfg['padding'] !== 'valid') {
    throw new UnsupportedLayerConfigError(layer.name, layer.getClassName(), `padding '${String(cfg['padding'])}'`);
  }
  const useBias = cfg['useBias'] !== false;
  const tensors = layer.getWeights();
  const kernel = tensors[0]!;
  const bias = useBias ? tensors[1]!.dataSync() : undefined;
  const conv = depthwise
    ? depthwiseConv2dWeights(kernel.dataSync(), kernel.shape, bias)
    : conv2dWeights(kernel.dataSync(), kernel.shape, bias);
  const act = String(cfg['activation'] ?? 'linear');
  const pending: OnnxValue = {
    kind: 'conv',
    input: ctx.values.emit(input.value).name,
    conv,
    attributes: {
      kernel_shape: [kh, kw],
      strides: [sh, sw],
      pads,
      dilations: [dh, dw],
      group: depthwise ? channels : 1,
    },
    weightBase: layer.name,
    layers: [act === 'linear' ? layer.name : `${layer.name}_preactivation`],
  };
  return activation(ctx, layer, pending, act, layer.name);
}

function globalAveragePool(ctx: TranslationContext, layer: Layer, input: LayerInput): OnnxValue {
  requireChannelsLast(layer);
  if (config(layer)['keepDims'] === true) {
    throw new UnsupportedLayerConfigError(layer.name, 'GlobalAveragePooling2D', 'keepDims is not supported');
  }
  const x = ctx.values.emit(input.value);
  const name = ctx.graph.addNode('GlobalAveragePool', [x.name], layer.name);
  return { kind: 'emitted', name, layout: 'pooled', channels: x.channels };
}

/** Only the reshapes that are no-ops in NCHW: [N, C] pooled to [N, 1, 1, C], or to its own shape. */
function reshape(layer: Layer, x: EmittedValue, inputShape: Shape): OnnxValue {
  const target = config(layer)['targetShape'] as number[];
  if (x.layout === 'pooled' && target.length === 3 && target[0] === 1 && target[1] === 1 && target[2] === x.channels) {
    return { ...x, layout: 'nchw' };
  }
  if (target.length === inputShape.length - 1 && target.every((d, i) => d === inputShape[i + 1])) return x;
  throw new UnsupportedLayerConfigError(layer.name, 'Reshape', `target shape ${JSON.stringify(target)}`);
}

function elementwise(ctx: TranslationContext, layer: Layer, inputs: LayerInput[], opType: 'Add' | 'Mul'): OnnxValue {
  const rank = inputs[0]!.shape.length;
  if (inputs.some((i) => i.shape.length !== rank) || (rank !== 2 && rank !== 4)) {
    throw new UnsupportedLayerConfigError(layer.name, layer.getClassName(), 'inputs must all be rank 2 or all rank 4');
  }
  // Rank-4 tensors are all NCHW, so ONNX's numpy broadcasting lines up as tfjs' did in NHWC.
  const values = inputs.map((i) => (rank === 2 ? ctx.values.flat(i.value) : ctx.values.emit(i.value)));
  let name = values[0]!.name;
  values.slice(1).forEach((v, i) => {
    name = ctx.graph.addNode(opType, [name, v.name], i === values.length - 2 ? layer.name : `${layer.name}_partial`);
  });
  return { ...values[0]!, name, channels: Math.max(...values.map((v) => v.channels)) };
}

function dense(ctx: TranslationContext, layer: Layer, input: LayerInput): OnnxValue {
  if (input.shape.length !== 2) {
    throw new UnsupportedLayerConfigError(layer.name, 'Dense', `input rank ${input.shape.length} (only rank 2)`);
  }
  const cfg = config(layer);
  const tensors = layer.getWeights();
  const kernel = tensors[0]!;
  const [, units] = kernel.shape as [number, number];
  const x = ctx.values.flat(input.value);
  // Gemm: A [N, K] x B [K, M] (tfjs' kernel layout as is) + C [M].
  const inputsOfGemm = [
    x.name,
    ctx.graph.addFloatInitializer(`${layer.name}/kernel`, kernel.dataSync() as Float32Array, [...kernel.shape]),
  ];
  if (cfg['useBias'] !== false) {
    inputsOfGemm.push(
      ctx.graph.addFloatInitializer(`${layer.name}/bias`, tensors[1]!.dataSync() as Float32Array, [units]),
    );
  }
  const act = String(cfg['activation'] ?? 'linear');
  const gemmName = act === 'linear' ? layer.name : `${layer.name}_logits`;
  const gemm: EmittedValue = {
    kind: 'emitted',
    name: ctx.graph.addNode('Gemm', inputsOfGemm, gemmName),
    layout: 'flat',
    channels: units,
  };
  return activation(ctx, layer, gemm, act, layer.name);
}

function weightData(layer: Layer, count: number): Float32Array[] {
  const tensors = layer.getWeights();
  if (tensors.length !== count) {
    throw new UnsupportedLayerConfigError(
      layer.name,
      layer.getClassName(),
      `expected ${count} weights, has ${tensors.length}`,
    );
  }
  return tensors.map((t) => t.dataSync() as Float32Array);
}

function channelsOf(layer: Layer, shape: Shape): number {
  const channels = shape[shape.length - 1];
  if (channels == null) throw new UnsupportedLayerConfigError(layer.name, layer.getClassName(), 'channel axis unknown');
  return channels;
}

function config(layer: Layer): Config {
  return layer.getConfig() as Config;
}

function requireChannelsLast(layer: Layer): void {
  const format = config(layer)['dataFormat'];
  if (format !== undefined && format !== 'channelsLast') {
    throw new UnsupportedLayerConfigError(layer.name, layer.getClassName(), `dataFormat '${String(format)}'`);
  }
}

function pair(layer: Layer, value: unknown): [number, number] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2) return [Number(value[0]), Number(value[1])];
  if (Array.isArray(value) && value.length === 1) return [Number(value[0]), Number(value[0])];
  throw new UnsupportedLayerConfigError(
    layer.name,
    layer.getClassName(),
    `expected a pair, got ${JSON.stringify(value)}`,
  );
}
