import type { LayersModel, tf } from '../compute/tf.js';
import {
  InvalidOnnxExportOptionsError,
  MissingClassifierError,
  UnsupportedLayerConfigError,
} from './onnx-export-errors.js';
import { floatValueInfo, OnnxGraphBuilder } from './onnx-graph-builder.js';
import { onnxFeaturesName, onnxInputName, onnxProbabilitiesName } from './onnx-io-names.js';
import { assertValidOnnxGraph } from './onnx-graph-validation.js';
import { encodeModelProto } from './onnx-schema.js';
import { OnnxValues, type OnnxValue } from './onnx-values.js';
import { translateLayer, type LayerInput } from './layer-translation.js';

/**
 * Exports a tfjs functional model (our Keras-style EfficientNet B0..B7, any input size) to a serialized
 * ONNX ModelProto for onnxruntime. The graph is walked generically, layer class by layer class, from the
 * outputs back to the input, so only the layers the requested outputs depend on are written.
 *
 * Graph contract:
 *  - input  `pixels`        float32 [N, H, W, 3], RGB 0..255, NHWC: byte for byte the tensor the tfjs model
 *    takes, so a client builds one buffer and can send it to either engine. One Transpose to NCHW
 *    follows (ONNX Conv is NCHW-only; runtimes' layout optimisers work from there).
 *  - output `probabilities` float32 [N, classes] (outputs 'classifier' only): the Dense softmax.
 *  - output `features`      float32 [N, featureDim]: the `avg_pool` vector the classifier reads; for a model
 *    without head, a global average pool of its last feature map (as featureExtractor() does).
 * The stem's Rescaling/Normalization/Rescaling chain becomes one Mul + Add; each inference BatchNormalization
 * is folded into the convolution before it (an exact identity, rounded once to float32).
 */

export type OnnxExportOutputs = 'classifier' | 'features-only';

export interface OnnxExportOptions {
  /** ONNX default-domain opset, 13..17 (default 13: the oldest with every operator in its final form here). */
  opset?: number;
  /** Default 'classifier'. */
  outputs?: OnnxExportOutputs;
}

export const minOnnxOpset = 13;
export const maxOnnxOpset = 17;

type Symbolic = tf.SymbolicTensor;

export function exportToOnnx(model: LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const opset = options.opset ?? minOnnxOpset;
  const outputs = options.outputs ?? 'classifier';
  if (!Number.isInteger(opset) || opset < minOnnxOpset || opset > maxOnnxOpset) {
    throw new InvalidOnnxExportOptionsError(
      `opset must be an integer in ${minOnnxOpset}..${maxOnnxOpset}, got ${opset}`,
    );
  }
  if (outputs !== 'classifier' && outputs !== 'features-only') {
    throw new InvalidOnnxExportOptionsError(`outputs must be 'classifier' or 'features-only', got ${String(outputs)}`);
  }
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new InvalidOnnxExportOptionsError(`model '${model.name}' must have one input and one output`);
  }

  const { features, probabilities } = findOutputs(model);
  if (outputs === 'classifier' && !probabilities) throw new MissingClassifierError(model.name);
  const wanted = outputs === 'classifier' ? [probabilities!, features.tensor] : [features.tensor];
  const order = topologicalOrder(wanted);
  const consumers = consumerCounts(order, wanted);

  const graph = new OnnxGraphBuilder();
  for (const name of [onnxInputName, onnxProbabilitiesName, onnxFeaturesName]) graph.reserveName(name);
  const values = new OnnxValues(graph);
  const ctx = { graph, values };
  const valueOf = new Map<number, OnnxValue>();
  const input = model.inputs[0]!;
  for (const tensor of order) {
    if (tensor.sourceLayer.getClassName() === 'InputLayer') {
      // NHWC -> NCHW once; everything after runs channel-first.
      const name = graph.addNode('Transpose', [onnxInputName], 'pixels_nchw', { perm: [0, 3, 1, 2] });
      valueOf.set(tensor.id, { kind: 'emitted', name, layout: 'nchw', channels: tensor.shape[3]! });
      continue;
    }
    const inputs: LayerInput[] = tensor.inputs.map((t) => ({
      value: valueOf.get(t.id)!,
      shape: t.shape,
      foldable: consumers.get(t.id) === 1,
    }));
    valueOf.set(tensor.id, translateLayer(ctx, tensor.sourceLayer, inputs));
  }

  let featureValue = values.emit(valueOf.get(features.tensor.id)!);
  if (features.pool) {
    const pooled = graph.addNode('GlobalAveragePool', [featureValue.name], 'avg_pool');
    featureValue = { ...featureValue, name: pooled, layout: 'pooled' };
  }
  const featureName = values.flat(featureValue).name;
  const outputInfos = [];
  if (outputs === 'classifier') {
    const probabilityName = values.flat(valueOf.get(probabilities!.id)!).name;
    graph.rename(probabilityName, onnxProbabilitiesName);
    outputInfos.push(floatValueInfo(onnxProbabilitiesName, [null, probabilities!.shape[1]!], 'class probabilities'));
  }
  graph.rename(featureName, onnxFeaturesName);
  outputInfos.push(floatValueInfo(onnxFeaturesName, [null, featureValue.channels], 'avg_pool feature vector'));

  const [, height, width, channels] = input.shape;
  if (height == null || width == null || channels == null) {
    throw new UnsupportedLayerConfigError(input.sourceLayer.name, 'InputLayer', 'the input size must be fixed');
  }
  const inputInfo = floatValueInfo(onnxInputName, [null, height, width, channels], 'RGB pixels 0..255, NHWC');
  const graphProto = graph.build(model.name, [inputInfo], outputInfos);
  assertValidOnnxGraph(graphProto);
  return encodeModelProto({
    ir_version: irVersionFor(opset),
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'effnet-tl',
    producer_version: '',
    graph: graphProto,
    metadata_props: [
      { key: 'source_model', value: model.name },
      { key: 'input_layout', value: 'NHWC float32 RGB 0..255' },
    ],
  });
}

/** The oldest IR version that carries the opset (ONNX 1.8/1.9: IR 7 with opsets 13/14; 1.10..1.12: IR 8). */
function irVersionFor(opset: number): number {
  return opset <= 14 ? 7 : 8;
}

interface ModelOutputs {
  /** The tensor features come from; `pool` when it is a feature map still to be globally averaged. */
  features: { tensor: Symbolic; pool: boolean };
  probabilities?: Symbolic;
}

/** A Dense output is the classifier; its input, past any Dropout, is the feature vector. */
function findOutputs(model: LayersModel): ModelOutputs {
  const output = model.outputs[0]!;
  if (output.sourceLayer.getClassName() === 'Dense') {
    let features = output.inputs[0]!;
    while (features.sourceLayer.getClassName() === 'Dropout') features = features.inputs[0]!;
    return { features: { tensor: features, pool: features.rank === 4 }, probabilities: output };
  }
  if (output.rank === 4 || output.rank === 2) return { features: { tensor: output, pool: output.rank === 4 } };
  throw new UnsupportedLayerConfigError(output.sourceLayer.name, output.sourceLayer.getClassName(), 'output rank');
}

/** Every tensor the roots depend on, producers before consumers (iterative DFS: B7 is ~800 layers deep). */
function topologicalOrder(roots: Symbolic[]): Symbolic[] {
  const order: Symbolic[] = [];
  const state = new Map<number, 'open' | 'done'>();
  const stack: { tensor: Symbolic; next: number }[] = [];
  for (const root of roots) {
    if (state.has(root.id)) continue;
    state.set(root.id, 'open');
    stack.push({ tensor: root, next: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const child = top.tensor.inputs[top.next++];
      if (!child) {
        state.set(top.tensor.id, 'done');
        order.push(top.tensor);
        stack.pop();
      } else if (!state.has(child.id)) {
        state.set(child.id, 'open');
        stack.push({ tensor: child, next: 0 });
      }
    }
  }
  return order;
}

/** How many layer inputs (plus graph outputs) read each tensor; only single-reader values may be folded. */
function consumerCounts(order: Symbolic[], roots: Symbolic[]): Map<number, number> {
  const counts = new Map<number, number>();
  const add = (t: Symbolic) => counts.set(t.id, (counts.get(t.id) ?? 0) + 1);
  for (const tensor of order) tensor.inputs.forEach(add);
  roots.forEach(add);
  return counts;
}
