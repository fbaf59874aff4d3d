import { composeAffine, type ChannelAffine } from './channel-affine.js';
import { foldAffineIntoConv, type OnnxConvWeights } from './conv-weights.js';
import type { AttributeValue, OnnxGraphBuilder } from './onnx-graph-builder.js';

/**
 * The ONNX-side value of a tfjs tensor during translation. Convolutions and per-channel affine maps
 * (Rescaling, Normalization, BatchNormalization) are held back as *pending* values so that a following
 * affine map can be folded into them; they become nodes only when something else consumes them.
 * Pending values are immutable: folding makes a new one, so a value read twice is never corrupted.
 *
 * Layouts: 'nchw' is a rank-4 tfjs NHWC tensor held as NCHW; 'pooled' is a rank-2 tfjs [N, C] tensor held
 * as GlobalAveragePool's [N, C, 1, 1] (so squeeze-excite needs no Reshape); 'flat' is a rank-2 [N, C].
 */

export type Layout = 'nchw' | 'pooled' | 'flat';

export interface EmittedValue {
  kind: 'emitted';
  name: string;
  layout: Layout;
  channels: number;
}

export interface PendingAffine {
  kind: 'affine';
  source: EmittedValue;
  affine: ChannelAffine;
  /** Layers folded into this value; the last names the ONNX output. */
  layers: string[];
}

export interface PendingConv {
  kind: 'conv';
  input: string;
  conv: OnnxConvWeights;
  attributes: Record<string, AttributeValue>;
  /** Names the kernel and bias initializers (the conv layer). */
  weightBase: string;
  /** Layers folded into this value; the last names the ONNX output. */
  layers: string[];
}

export type OnnxValue = EmittedValue | PendingAffine | PendingConv;

export class OnnxValues {
  private readonly materialized = new WeakMap<PendingAffine | PendingConv, EmittedValue>();
  private readonly flattened = new Map<string, EmittedValue>();

  constructor(private readonly graph: OnnxGraphBuilder) {}

  /**
   * `affine` applied to `value` by layer `layer`. With `foldable` (the value has no other reader) it is
   * folded into a pending conv or affine; otherwise it starts a new pending affine on the emitted value.
   */
  applyAffine(value: OnnxValue, affine: ChannelAffine, layer: string, foldable: boolean): OnnxValue {
    if (foldable && value.kind === 'conv') {
      return { ...value, conv: foldAffineIntoConv(value.conv, affine), layers: [...value.layers, layer] };
    }
    if (foldable && value.kind === 'affine') {
      return { ...value, affine: composeAffine(value.affine, affine), layers: [...value.layers, layer] };
    }
    return { kind: 'affine', source: this.emit(value), affine, layers: [layer] };
  }

  /** The value as a node output, writing the nodes of a pending value (once). */
  emit(value: OnnxValue): EmittedValue {
    if (value.kind === 'emitted') return value;
    const cached = this.materialized.get(value);
    if (cached) return cached;
    const emitted = value.kind === 'conv' ? this.emitConv(value) : this.emitAffine(value);
    this.materialized.set(value, emitted);
    return emitted;
  }

  /** The value as a rank-2 ONNX tensor (a Flatten after GlobalAveragePool, written once). */
  flat(value: OnnxValue): EmittedValue {
    const emitted = this.emit(value);
    if (emitted.layout === 'flat') return emitted;
    if (emitted.layout !== 'pooled') throw new Error(`ONNX export: '${emitted.name}' is a feature map, not a vector`);
    let flat = this.flattened.get(emitted.name);
    if (!flat) {
      const name = this.graph.addNode('Flatten', [emitted.name], `${emitted.name}_flat`, { axis: 1 });
      flat = { kind: 'emitted', name, layout: 'flat', channels: emitted.channels };
      this.flattened.set(emitted.name, flat);
    }
    return flat;
  }

  private emitConv(value: PendingConv): EmittedValue {
    const { conv } = value;
    const base = value.weightBase;
    const inputs = [
      value.input,
      this.graph.addFloatInitializer(`${base}/kernel`, Float32Array.from(conv.weights), conv.dims),
    ];
    if (conv.hasBias)
      inputs.push(this.graph.addFloatInitializer(`${base}/bias`, Float32Array.from(conv.bias), [conv.dims[0]]));
    const name = this.graph.addNode('Conv', inputs, value.layers.at(-1)!, value.attributes);
    return { kind: 'emitted', name, layout: 'nchw', channels: conv.dims[0] };
  }

  /** Always a Mul and an Add, even for a unit scale or zero offset, so the graph's shape never depends on weights. */
  private emitAffine(value: PendingAffine): EmittedValue {
    const { source, affine } = value;
    const channels = source.channels;
    const dims = source.layout === 'flat' ? [channels] : [channels, 1, 1];
    const base = value.layers.at(-1)!;
    const scale = this.graph.addFloatInitializer(`${base}/scale`, Float32Array.from(affine.scale), dims);
    const offset = this.graph.addFloatInitializer(`${base}/offset`, Float32Array.from(affine.offset), dims);
    const scaled = this.graph.addNode('Mul', [source.name, scale], `${base}_scaled`);
    const name = this.graph.addNode('Add', [scaled, offset], base);
    return { kind: 'emitted', name, layout: source.layout, channels };
  }
}
