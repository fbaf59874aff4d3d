import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tf, type LayersModel } from '../../src/compute/tf.js';
import { BatchNormalization } from '../../src/model/batch-normalization.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { saveLayersModel } from '../../src/model/tfjs-file-io.js';
import { metadataFileName, metadataFormatVersion } from '../../src/training/trained-model-metadata.js';

/**
 * A trained-model artifact as src/training writes it (model.json + shard + metadata.json), from a freshly
 * initialised B0: the fields loadTrainedModel checks are real, the training history is left out.
 */
export interface ModelArtifact {
  dir: string;
  classes: string[];
  imageSize: number;
  /** The same model, in this process, to compare the pool's answers with. */
  model: LayersModel;
}

export async function writeModelArtifact(
  dir: string,
  options: { imageSize: number; classes: string[]; seed?: number; calibrate?: boolean },
): Promise<ModelArtifact> {
  const { imageSize, classes } = options;
  const model = buildEfficientNet({
    architecture: 'efficientnet-b0',
    imageSize,
    numClasses: classes.length,
    seed: options.seed ?? 1,
    // No dropout layers: the calibration pass below runs with training=true and must be deterministic.
    dropConnectRate: 0,
    dropoutRate: 0,
  });
  if (options.calibrate ?? true) calibrateBatchNorm(model, imageSize, options.seed ?? 1);
  await saveLayersModel(model, dir);
  const metadata = {
    formatVersion: metadataFormatVersion,
    createdAt: new Date().toISOString(),
    classes,
    architecture: 'efficientnet-b0',
    imageSize,
    numClasses: classes.length,
    featureLayer: 'avg_pool',
    featureDim: 1280,
  };
  await writeFile(path.join(dir, metadataFileName), `${JSON.stringify(metadata, null, 2)}\n`);
  return { dir, classes, imageSize, model };
}

/** Another artifact directory holding the same files (a distinct model id for cache tests, without a rebuild). */
export async function copyArtifact(artifact: ModelArtifact, dir: string): Promise<ModelArtifact> {
  await cp(artifact.dir, dir, { recursive: true });
  return { ...artifact, dir };
}

/**
 * From random init, activations shrink layer after layer (BN statistics are mean 0, variance 1), so every
 * image gets features ≈ 0 and probabilities 1/n ± 1e-6: answers could not tell images apart. One forward
 * pass with batch statistics over coloured noise, copied into the moving statistics, keeps activations near
 * unit scale, as a trained model's are.
 */
function calibrateBatchNorm(model: LayersModel, imageSize: number, seed: number): void {
  const layers = model.layers.filter((l): l is BatchNormalization => l instanceof BatchNormalization);
  const momentum = (layer: BatchNormalization, value: number) =>
    ((layer as unknown as { momentum: number }).momentum = value);
  const saved = layers.map((l) => l.momentum);
  layers.forEach((l) => ((l.mode = 'train'), momentum(l, 0)));
  try {
    tf.tidy(() => {
      const colours = tf.randomUniform([16, 1, 1, 3], 0, 255, 'float32', seed);
      const noise = tf.randomUniform([16, imageSize, imageSize, 3], -40, 40, 'float32', seed + 1);
      model.apply(tf.clipByValue(tf.add(colours, noise), 0, 255), { training: true });
    });
  } finally {
    layers.forEach((l, i) => ((l.mode = 'inference'), momentum(l, saved[i]!)));
  }
  // Features now have a norm near 100: shrink the classifier so probabilities are spread, not 0/1.
  const head = model.getLayer('predictions');
  const [kernel, bias] = head.getWeights();
  head.setWeights([tf.mul(kernel!, 0.02), bias!]);
}
