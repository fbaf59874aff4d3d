import { tf, type LayersModel } from '../../../src/compute/tf.js';
import { BatchNormalization } from '../../../src/model/batch-normalization.js';
import { Rescaling } from '../../../src/model/rescaling.js';
import { StemNormalization } from '../../../src/model/stem-normalization.js';
import type { KerasLayerSpec } from '../../helpers/keras-h5-writer.js';

/**
 * A tiny model with EfficientNet's layer kinds and Keras names (normalization, Conv2D with and without
 * bias, DepthwiseConv2D, BatchNormalization, Dense), so the importers can be tested without the full net.
 */
export function buildSmallKerasModel(options: { includeHead?: boolean; classes?: number } = {}): LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'input_1' });
  let x = new Rescaling({ scale: 1 / 255, name: 'rescaling' }).apply(input) as tf.SymbolicTensor;
  x = new StemNormalization({ name: 'normalization' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .zeroPadding2d({
      padding: [
        [0, 1],
        [0, 1],
      ],
      name: 'stem_conv_pad',
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, strides: 2, useBias: false, name: 'stem_conv' })
    .apply(x) as tf.SymbolicTensor;
  x = new BatchNormalization({ name: 'stem_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'swish', name: 'stem_activation' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'block1a_dwconv' })
    .apply(x) as tf.SymbolicTensor;
  x = new BatchNormalization({ name: 'block1a_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'block1a_se_reduce' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tf.SymbolicTensor;
  if (options.includeHead ?? true) {
    x = tf.layers
      .dense({ units: options.classes ?? 3, activation: 'softmax', name: 'predictions' })
      .apply(x) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: x, name: 'small_efficientnet' });
}

/** A deterministic pattern distinct for every weight (seeded by its position), exact in float32. */
export function patternValues(seed: number, size: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.fround(Math.sin(seed * 1000.5 + i * 0.37)));
}

/**
 * The Keras file layout of a model: every layer (weightless ones too), in model order, each weight filled
 * with patternValues. The normalization `count` is stored as int64, as Keras does.
 */
export function kerasLayersWithPattern(model: LayersModel): KerasLayerSpec[] {
  let seed = 1;
  return model.layers.map((layer) => ({
    layerName: layer.name,
    weights: layer.weights.map((w) => {
      const name = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
      const size = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      const values = name === 'count' ? [1281167 + seed++] : patternValues(seed++, size);
      return { name, shape: w.shape as number[], values, dtype: name === 'count' ? ('int64' as const) : undefined };
    }),
  }));
}

/** Renames a layer (and its weight names) in a Keras layout, e.g. normalization -> normalization_3. */
export function renameLayer(layers: KerasLayerSpec[], from: string, to: string): KerasLayerSpec[] {
  return layers.map((l) => (l.layerName === from ? { ...l, layerName: to } : l));
}

/** Weights (`layer/weight`) whose values differ from the file's for the same layer and weight name. */
export function mismatchedWeights(
  model: LayersModel,
  layers: KerasLayerSpec[],
  layerRenames: Record<string, string> = {},
): string[] {
  const expected = new Map<string, ArrayLike<number>>();
  for (const layer of layers) {
    const name = layerRenames[layer.layerName] ?? layer.layerName;
    for (const w of layer.weights) expected.set(`${name}/${w.name}`, w.values);
  }
  const wrong: string[] = [];
  for (const layer of model.layers) {
    for (const w of layer.weights) {
      const key = `${layer.name}/${w.originalName.slice(w.originalName.lastIndexOf('/') + 1)}`;
      const want = expected.get(key);
      const got = w.read().dataSync();
      if (!want || want.length !== got.length || Array.from(got).some((v, i) => v !== Math.fround(want[i]!))) {
        wrong.push(key);
      }
    }
  }
  return wrong;
}
