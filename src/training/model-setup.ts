import path from 'node:path';
import { tf, type LayersModel } from '../compute/tf.js';
import { deriveSeed } from '../data/seeded-random.js';
import { buildEfficientNet } from '../model/efficientnet.js';
import { loadKerasH5Weights, resolveImagenetWeightsFile } from '../model/weights/keras-h5-weights.js';
import { publishedWeightsFor } from '../model/weights/published-weights.js';
import { WeightsFileNotFoundError } from '../model/weights/weights-errors.js';
import type { ResolvedTrainingConfig } from '../schemas/training-config.js';
import { ImagenetWeightsMissingError } from './training-errors.js';

/** Where the starting weights came from, for metadata.json. */
export interface WeightsSourceInfo {
  source: 'imagenet' | 'none';
  file?: string;
  /** md5 checked against Keras' published hash; absent when verification was off. */
  md5?: string;
}

/**
 * The classifier B{N} with Keras' head (avg_pool, top_dropout, predictions), seeded from the run's seed.
 *
 * The `predictions` kernel is re-initialised with glorot_uniform, the default of the keras.layers.Dense a
 * transfer-learning head is (the Keras guide and keras.io's EfficientNet example both add a fresh Dense).
 * keras.applications' own head initialiser, VarianceScaling(1/3, fan_out), is sized for 1000 ImageNet
 * classes: with 3 classes its weights are ~8x larger, the softmax starts saturated (initial loss ~6
 * instead of ln 3, measured on B0) and phase 1 spends its epochs undoing the initialisation.
 */
export function buildTrainingModel(config: ResolvedTrainingConfig, numClasses: number): LayersModel {
  const model = buildEfficientNet({
    architecture: config.architecture,
    imageSize: config.imageSize,
    numClasses,
    includeHead: true,
    bnMode: 'inference',
    seed: config.seed,
  });
  const [kernel, bias] = model.getLayer('predictions').weights;
  tf.tidy(() => {
    const init = tf.initializers.glorotUniform({ seed: deriveSeed(config.seed, 'predictions') });
    kernel!.write(init.apply(kernel!.shape as number[]));
    bias!.write(tf.zeros(bias!.shape as number[]));
  });
  return model;
}

/** Loads efficientnetb{N}_notop.h5 from weightsDir into the base; the new head keeps its initialisation. */
export async function loadImagenetWeights(
  model: LayersModel,
  config: ResolvedTrainingConfig,
  weightsDir: string,
  verify: boolean,
): Promise<WeightsSourceInfo> {
  let file: string;
  try {
    file = (await resolveImagenetWeightsFile(weightsDir, config.architecture, { includeTop: false })).path;
  } catch (error) {
    if (error instanceof WeightsFileNotFoundError) {
      const expected = publishedWeightsFor(config.architecture, false)!.fileName;
      throw new ImagenetWeightsMissingError(expected, path.resolve(weightsDir));
    }
    throw error;
  }
  const report = await loadKerasH5Weights(model, file, { verify, skipLayers: ['predictions'] });
  return { source: 'imagenet', file: path.basename(file), md5: report.verifiedMd5 };
}

/**
 * Whether WEIGHTS_DIR holds the architecture's efficientnetb{N}_notop.h5 (for resolveTrainingConfig's
 * `imagenetWeightsAvailable`, so an API can refuse a job up front instead of failing it later).
 */
export async function hasImagenetWeights(weightsDir: string, architecture: string): Promise<boolean> {
  try {
    await resolveImagenetWeightsFile(weightsDir, architecture, { includeTop: false });
    return true;
  } catch (error) {
    if (error instanceof WeightsFileNotFoundError) return false;
    throw error;
  }
}
