import { tf, type LayersModel, type Tensor } from '../../src/compute/tf.js';
import { BatchNormalization } from '../../src/model/batch-normalization.js';
import { StemNormalization } from '../../src/model/stem-normalization.js';

/**
 * Helpers for comparing the ONNX export against tfjs on models whose outputs actually depend on the
 * image. A freshly initialised EfficientNet has BN statistics 0/1, gamma 1, beta 0 (folding them would be
 * nearly a no-op) and features ~1e-5 that hardly vary between images.
 */

/** `n` NHWC images of side `size` in 0..255, each a different smooth pattern (noise averages out in avg_pool). */
export function patternImages(n: number, size: number): Float32Array {
  const data = new Float32Array(n * size * size * 3);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) {
          const phase = (0.05 + 0.13 * i + 0.07 * c) * x + (0.3 - 0.06 * i) * y + 1.7 * i + c;
          const envelope = i % 2 === 1 ? 1 : Math.cos(0.2 * y);
          data[k++] = 127.5 + 120 * Math.sin(phase) * envelope;
        }
      }
    }
  }
  return data;
}

/**
 * Gives every BatchNormalization random gamma (0.25..0.75) and beta (-0.3..0.3) and moving statistics
 * calibrated on `images`, layer by layer so each BN sees the already-changed layers before it, then
 * perturbed so no channel is a plain standardisation. Without calibration activations either fade into
 * the biases or grow without bound through the blocks. Also sets ImageNet stem statistics and scales the
 * classifier so its probabilities are far from uniform. Deterministic for a given seed.
 *
 * Calibrating on the images themselves makes a random network chaotic (float32 rounding grows by 2-3x per
 * block) when few values enter each statistic, as at the 1x1 maps of a 32 px input; tfjs' own cpu and
 * wasm backends then disagree by 10-300%. Hence calibrationImageCount(), the variance floor and the
 * modest gammas: with them the two tfjs backends agree to ~1e-5, which bounds what any comparison can show.
 */
export function makeTrainedLike(model: LayersModel, images: Tensor, seed: number): void {
  let next = seed;
  const uniform = (n: number, low: number, high: number) => tf.randomUniform([n], low, high, 'float32', next++);
  for (const layer of model.layers) {
    if (layer instanceof StemNormalization) {
      layer.setStatistics({ mean: [0.485, 0.456, 0.406], variance: [0.229 ** 2, 0.224 ** 2, 0.225 ** 2] });
    }
    if (!(layer instanceof BatchNormalization)) continue;
    tf.tidy(() => {
      const channels = layer.getWeights()[0]!.shape[0]!;
      const prefix = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
      const activations = prefix.predict(images) as Tensor;
      const { mean, variance } = tf.moments(activations, [0, 1, 2]);
      const movingMean = tf.add(mean, tf.mul(tf.sqrt(variance), uniform(channels, -0.2, 0.2)));
      // A channel that barely varies would be blown up to unit variance: floor it at a tenth of the layer's mean square.
      const floored = tf.maximum(variance, tf.mul(tf.mean(tf.add(variance, tf.square(mean))), 0.1));
      const movingVariance = tf.mul(floored, uniform(channels, 0.7, 1.4));
      layer.setWeights([uniform(channels, 0.25, 0.75), uniform(channels, -0.3, 0.3), movingMean, movingVariance]);
    });
  }
  const dense = model.layers.find((l) => l.getClassName() === 'Dense');
  if (dense) {
    tf.tidy(() => {
      const [kernel, bias] = dense.getWeights();
      dense.setWeights([tf.mul(tf.randomNormal(kernel!.shape, 0, 1, 'float32', next++), 0.3), bias!]);
    });
  }
}

/** Enough calibration images that the 1/32-scale final feature map gives each BN statistic >= 32 values. */
export function calibrationImageCount(size: number): number {
  const finalMap = Math.ceil(size / 32);
  return Math.max(4, Math.ceil(32 / (finalMap * finalMap)));
}

/** max |actual - expected| / max |expected|: the error relative to the output's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Each row minus the mean row: the image-dependent part of a batch of feature vectors. */
export function centeredRows(data: ArrayLike<number>, rows: number): Float64Array {
  const width = data.length / rows;
  const out = new Float64Array(data.length);
  for (let j = 0; j < width; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += data[i * width + j]! / rows;
    for (let i = 0; i < rows; i++) out[i * width + j] = data[i * width + j]! - mean;
  }
  return out;
}
