import path from 'node:path';
import type { LayersModel } from '../../src/compute/tf.js';
import { imagenetClassNames } from '../../src/model/imagenet-classes.js';
import { writeKerasH5, type KerasLayerSpec } from '../helpers/keras-h5-writer.js';
import { writeModelArtifact } from '../inference/model-artifact-fixture.js';

/**
 * Keras' published file layout for a B0 at a small input size, from a batch-norm-calibrated B0 with a
 * 1000-class head (so features and probabilities tell images apart): `efficientnetb0_notop.h5` holds every
 * layer but `predictions`, `efficientnetb0.h5` all of them. Returns the model, to compute expected answers.
 */
export async function kerasB0Weights(scratchDir: string, imageSize: number): Promise<KerasB0Weights> {
  const artifact = await writeModelArtifact(path.join(scratchDir, 'reference'), {
    imageSize,
    classes: imagenetClassNames(),
    seed: 7,
  });
  const layers = kerasLayersOf(artifact.model);
  return {
    model: artifact.model,
    writeNotop: (weightsDir) =>
      writeKerasH5(
        path.join(weightsDir, 'efficientnetb0_notop.h5'),
        layers.filter((l) => l.layerName !== 'predictions'),
      ),
    writeWithTop: (weightsDir) => writeKerasH5(path.join(weightsDir, 'efficientnetb0.h5'), layers, { nested: true }),
  };
}

export interface KerasB0Weights {
  /** The model the files were written from (with its head); dispose it when done. */
  model: LayersModel;
  writeNotop(weightsDir: string): Promise<void>;
  writeWithTop(weightsDir: string): Promise<void>;
}

function kerasLayersOf(model: LayersModel): KerasLayerSpec[] {
  return model.layers.map((layer) => ({
    // Keras' published files call the input `input_1`; weightless layers are listed too.
    layerName: layer.name === 'input_layer' ? 'input_1' : layer.name,
    weights: layer.weights.map((w) => {
      const name = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
      const values = w.read().dataSync();
      return { name, shape: w.shape as number[], values, dtype: name === 'count' ? ('int64' as const) : undefined };
    }),
  }));
}
