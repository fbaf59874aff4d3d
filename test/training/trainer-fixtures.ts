import path from 'node:path';
import { tf } from '../../src/compute/tf.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { loadTrainedModel } from '../../src/training/trained-model.js';
import { writeKerasH5, type KerasLayerSpec } from '../helpers/keras-h5-writer.js';

/** Shared helpers of the trainer tests. */

export type WeightMap = Map<string, Float32Array>;

/** Every weight of a trained-model artifact, by name. */
export async function artifactWeights(dir: string): Promise<WeightMap> {
  const { model } = await loadTrainedModel(dir);
  try {
    return new Map(model.weights.map((w) => [w.originalName, w.read().dataSync().slice() as Float32Array]));
  } finally {
    model.dispose();
  }
}

/** Largest absolute difference between same-named weights; throws if the names differ. */
export function maxAbsDiff(a: WeightMap, b: WeightMap): { max: number; at: string } {
  if (a.size !== b.size) throw new Error(`weight counts differ: ${a.size} vs ${b.size}`);
  let max = 0;
  let at = '';
  for (const [name, values] of a) {
    const other = b.get(name);
    if (!other) throw new Error(`weight ${name} missing`);
    for (let i = 0; i < values.length; i++) {
      const d = Math.abs(values[i]! - other[i]!);
      if (!(d <= max)) {
        max = d;
        at = name;
      }
    }
  }
  return { max, at };
}

/**
 * A stand-in for Keras' efficientnetb0_notop.h5 in `weightsDir`: the weights of a seeded headless B0 in the
 * Keras file layout, with non-trivial BN moving statistics so that any change to them is visible.
 * Returns the file's weights by `layer/weight` name.
 */
export async function writeFakeImagenetWeights(weightsDir: string, imageSize: number): Promise<WeightMap> {
  const model = buildEfficientNet({ architecture: 'b0', includeHead: false, imageSize, seed: 1234 });
  const values: WeightMap = new Map();
  let k = 0;
  try {
    const layers: KerasLayerSpec[] = model.layers.map((layer) => ({
      layerName: layer.name,
      weights: layer.weights.map((w) => {
        const name = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
        let data = w.read().dataSync().slice() as Float32Array;
        k++;
        if (name === 'moving_mean') data = data.map((_, i) => Math.fround(0.1 * Math.sin(k + i)));
        if (name === 'moving_variance') data = data.map((_, i) => Math.fround(1 + 0.5 * Math.cos(k * 3 + i)));
        values.set(w.originalName, data);
        return name === 'count'
          ? { name, shape: w.shape as number[], values: [1281167], dtype: 'int64' as const }
          : { name, shape: w.shape as number[], values: data };
      }),
    }));
    await writeKerasH5(path.join(weightsDir, 'efficientnetb0_notop.h5'), layers);
  } finally {
    model.dispose();
  }
  return values;
}

export function liveTensors(): number {
  return tf.memory().numTensors;
}
