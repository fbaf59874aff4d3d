import { tf, type LayersModel, type Tensor } from '../compute/tf.js';
import { isBatchNormalization, type BatchNormalization } from './batch-normalization.js';
import { fuseSwishActivations } from './fused-swish.js';
import { Rescaling } from './rescaling.js';
import { StemNormalization } from './stem-normalization.js';

/**
 * An inference graph of a model with fewer passes over the activations, built when a model is loaded for
 * inference (the saved model is untouched):
 * - every BatchNormalization right after a Conv2D or DepthwiseConv2D (its only consumer) is folded into it:
 *   kernel' = kernel * s, bias' = (bias - moving_mean) * s + beta, s = gamma / sqrt(moving_variance + eps);
 *   the convolution then runs as one fused kernel with its bias (all 49 of EfficientNet-B0's);
 *   a ZeroPadding2D before a 'valid' one becomes its explicit padding (no padded copy);
 * - a chain of per-channel affine layers (the stem's Rescaling, Normalization, Rescaling) becomes one
 *   per-channel affine map: one pass instead of three over the input.
 * Every other layer of `model` is reused as it is (with its weights); the new layers hold tensors of their
 * own, which dispose() frees.
 */
export interface FoldedInferenceGraph {
  /** Maps a symbolic tensor of the original graph to the folded graph's, e.g. to pick extra outputs. */
  map(tensor: tf.SymbolicTensor): tf.SymbolicTensor;
  /** How many BatchNormalizations were folded away. */
  folded: number;
  /** Frees the tensors of the new layers; dispose the original model separately. */
  dispose(): void;
}

interface GraphNode {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

interface GraphLayer {
  inboundNodes: GraphNode[];
  outboundNodes: GraphNode[];
}

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
/** [[0, 0], [top, bottom], [left, right], [0, 0]], as tfjs' convolutions take explicit padding. */
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

const nodeOf = (layer: tf.layers.Layer) => (layer as unknown as GraphLayer).inboundNodes[0];
const onlyConsumerIsNext = (layer: tf.layers.Layer) => (layer as unknown as GraphLayer).outboundNodes.length === 1;

/** A convolution with BatchNormalization folded in: one fused kernel with bias. Inference only. */
class FoldedConvolution extends tf.layers.Layer {
  static readonly className = 'EffnetFoldedConvolution';

  constructor(
    args: LayerArgs,
    private readonly depthwise: boolean,
    readonly kernel: Tensor,
    readonly bias: Tensor,
    private readonly strides: [number, number],
    private readonly padding: 'valid' | 'same' | ExplicitPadding,
    private readonly dilations: [number, number],
    private readonly outputShapeOf: tf.Shape,
  ) {
    super(args);
  }

  override computeOutputShape(): tf.Shape {
    return this.outputShapeOf;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    const args = { x, bias: this.bias, strides: this.strides, dilations: this.dilations };
    if (!this.depthwise) return tf.fused.conv2d({ ...args, pad: this.padding, filter: this.kernel as tf.Tensor4D });
    // tfjs types fused.depthwiseConv2d's padding without explicit arrays, but its kernels (wasm, cpu) take
    // them as conv2d's do.
    const pad = this.padding as 'valid';
    return tf.fused.depthwiseConv2d({ ...args, pad, filter: this.kernel as tf.Tensor4D });
  }
}

/** x * scale[c] + offset[c] in one pass (tf.batchNorm with mean 0, variance 1, epsilon 0). Inference only. */
class ChannelAffine extends tf.layers.Layer {
  static readonly className = 'EffnetChannelAffine';

  constructor(
    args: LayerArgs,
    readonly scale: Tensor,
    readonly offset: Tensor,
    private readonly zeros: Tensor,
    private readonly ones: Tensor,
  ) {
    super(args);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.batchNorm(x, this.zeros, this.ones, this.offset, this.scale, 0);
  }
}

/** The convolution feeding only this BatchNormalization, if it can take it in. */
function foldableConvolution(bn: BatchNormalization): tf.layers.Layer | undefined {
  const inputs = nodeOf(bn)?.inputTensors ?? [];
  if (inputs.length !== 1) return undefined;
  const conv = inputs[0]!.sourceLayer;
  if (!['Conv2D', 'DepthwiseConv2D'].includes(conv.getClassName())) return undefined;
  const config = conv.getConfig();
  const linear = config['activation'] == null || config['activation'] === 'linear';
  const channelsLast = config['dataFormat'] == null || config['dataFormat'] === 'channelsLast';
  const multiplier = (config['depthMultiplier'] as number | undefined) ?? 1;
  return linear && channelsLast && multiplier === 1 && onlyConsumerIsNext(conv) ? conv : undefined;
}

/** The per-channel map a layer applies, x * scale + offset, or undefined when it is not one. */
function channelAffineOf(layer: tf.layers.Layer, channels: number): { scale: number[]; offset: number[] } | undefined {
  if (layer instanceof Rescaling) {
    const scale = Array.isArray(layer.scale) ? layer.scale : new Array<number>(channels).fill(layer.scale);
    return scale.length === channels ? { scale, offset: new Array<number>(channels).fill(layer.offset) } : undefined;
  }
  if (layer instanceof StemNormalization) {
    const [mean, variance] = layer.getWeights().map((w) => Array.from(w.dataSync()));
    if (mean!.length !== channels) return undefined;
    // (x - mean) / max(sqrt(variance), 1e-7), as StemNormalization computes it.
    const denominator = variance!.map((v) => Math.max(Math.sqrt(v), 1e-7));
    return { scale: denominator.map((d) => 1 / d), offset: mean!.map((m, c) => -m / denominator[c]!) };
  }
  return undefined;
}

export function foldBatchNormalization(model: LayersModel): FoldedInferenceGraph {
  const foldInto = new Map<tf.layers.Layer, BatchNormalization>();
  for (const layer of model.layers) {
    if (!isBatchNormalization(layer)) continue;
    const conv = foldableConvolution(layer);
    if (conv) foldInto.set(conv, layer);
  }

  const owned: Tensor[] = [];
  const mapped = new Map<number, tf.SymbolicTensor>();
  // Outputs of affine layers not yet materialised: the new graph's tensor they apply to, and the map.
  const pending = new Map<number, { source: tf.SymbolicTensor; scale: number[]; offset: number[]; name: string }>();
  for (const input of model.inputs) mapped.set(input.id, input);

  const mapTensor = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const done = mapped.get(t.id);
    if (done) return done;
    const affine = pending.get(t.id);
    if (affine == null) throw new Error(`foldBatchNormalization: tensor of layer ${t.sourceLayer.name} not mapped yet`);
    const tensors = [tf.tensor1d(affine.scale), tf.tensor1d(affine.offset)];
    const [zeros, ones] = [tf.zeros([affine.scale.length]), tf.ones([affine.scale.length])];
    owned.push(...tensors, zeros, ones);
    const layer = new ChannelAffine({ name: affine.name }, tensors[0]!, tensors[1]!, zeros, ones);
    const out = layer.apply(affine.source) as tf.SymbolicTensor;
    mapped.set(t.id, out);
    return out;
  };

  let folded = 0;
  for (const layer of model.layers) {
    const node = nodeOf(layer);
    if (node == null || layer.getClassName() === 'InputLayer') continue;
    const output = node.outputTensors[0]!;
    const bn = foldInto.get(layer);
    const channels = output.shape[output.shape.length - 1] ?? 0;
    const affine = node.inputTensors.length === 1 ? channelAffineOf(layer, channels) : undefined;
    if (bn) {
      // A ZeroPadding2D feeding only a 'valid' convolution becomes the convolution's explicit padding.
      const padding = zeroPaddingBefore(layer);
      const conv = foldedConvolution(layer, bn, padding?.explicit);
      owned.push(conv.kernel, conv.bias);
      const input = padding ? padding.input : node.inputTensors[0]!;
      mapped.set(output.id, conv.apply(mapTensor(input)) as tf.SymbolicTensor);
      folded++;
    } else if (isBatchNormalization(layer) && foldableConvolution(layer) != null) {
      mapped.set(output.id, mapTensor(node.inputTensors[0]!));
    } else if (affine) {
      const input = node.inputTensors[0]!;
      const before = pending.get(input.id);
      if (before && !mapped.has(input.id) && onlyConsumerIsNext(input.sourceLayer)) {
        // (x * a + b) * c + d = x * (a c) + (b c + d)
        pending.set(output.id, {
          source: before.source,
          scale: before.scale.map((a, c) => a * affine.scale[c]!),
          offset: before.offset.map((b, c) => b * affine.scale[c]! + affine.offset[c]!),
          name: `${before.name}_${layer.name}`,
        });
      } else {
        pending.set(output.id, { source: mapTensor(input), ...affine, name: layer.name });
      }
    } else {
      const inputs = node.inputTensors.map(mapTensor);
      mapped.set(output.id, layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as tf.SymbolicTensor);
    }
  }
  return { map: mapTensor, folded, dispose: () => tf.dispose(owned) };
}

/** The ZeroPadding2D feeding only this 'valid' convolution: its input and its padding in explicit form. */
function zeroPaddingBefore(conv: tf.layers.Layer): { input: tf.SymbolicTensor; explicit: ExplicitPadding } | undefined {
  const inputs = nodeOf(conv)?.inputTensors ?? [];
  if (inputs.length !== 1 || conv.getConfig()['padding'] !== 'valid') return undefined;
  const padLayer = inputs[0]!.sourceLayer;
  const padInputs = nodeOf(padLayer)?.inputTensors ?? [];
  if (padLayer.getClassName() !== 'ZeroPadding2D' || padInputs.length !== 1 || !onlyConsumerIsNext(padLayer)) {
    return undefined;
  }
  const config = padLayer.getConfig();
  if (config['dataFormat'] != null && config['dataFormat'] !== 'channelsLast') return undefined;
  const [[top, bottom], [left, right]] = config['padding'] as [[number, number], [number, number]];
  return {
    input: padInputs[0]!,
    explicit: [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
  };
}

/** The convolution with the BatchNormalization after it folded in, under the convolution's name. */
function foldedConvolution(
  conv: tf.layers.Layer,
  bn: BatchNormalization,
  explicit?: ExplicitPadding,
): FoldedConvolution {
  const config = conv.getConfig() as Record<string, unknown>;
  const depthwise = conv.getClassName() === 'DepthwiseConv2D';
  const [kernel, bias] = tf.tidy(() => {
    const [w, b] = conv.getWeights();
    const [gamma, beta, mean, variance] = bn.getWeights() as Tensor[];
    const scale = tf.div(gamma!, tf.sqrt(tf.add(variance!, bn.epsilon)));
    const shift = b == null ? tf.neg(mean!) : tf.sub(b, mean!);
    // Conv2D kernels are [h, w, in, out]; depthwise ones [h, w, channels, 1]: scale the output channel.
    const kernelScale = depthwise ? tf.reshape(scale, [-1, 1]) : scale;
    return [tf.mul(w!, kernelScale), tf.add(tf.mul(shift, scale), beta!)];
  });
  const pair = (v: unknown) => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v]) as [number, number];
  return new FoldedConvolution(
    { name: conv.name },
    depthwise,
    kernel!,
    bias!,
    pair(config['strides'] ?? 1),
    explicit ?? (config['padding'] as 'valid' | 'same'),
    pair(config['dilationRate'] ?? 1),
    (conv.outputShape as tf.Shape).slice(),
  );
}

/**
 * The folded graph of `model` as a model with the given outputs (default: the model's own). Outputs that are
 * not part of `model`'s graph make it fall back to the unfolded graph.
 */
export function foldedInferenceModel(
  model: LayersModel,
  outputs: tf.SymbolicTensor[] = model.outputs,
): { model: LayersModel; graph: FoldedInferenceGraph } {
  const graph = foldBatchNormalization(model);
  let mapped: tf.SymbolicTensor[];
  try {
    mapped = outputs.map(graph.map);
  } catch {
    // An output outside the model's own graph (a layer applied on top of it later): serve it unfolded.
    graph.dispose();
    const unfolded = tf.model({ inputs: model.inputs, outputs, name: `${model.name}_inference` });
    return { model: unfolded, graph: { map: (t) => t, folded: 0, dispose: () => {} } };
  }
  const folded = tf.model({ inputs: model.inputs, outputs: mapped, name: `${model.name}_folded` });
  return { model: fuseSwishActivations(folded), graph };
}
