import { tf, type LayersModel, type Tensor } from '../compute/tf.js';
import { countCorrect, sparseCategoricalCrossentropy } from './classification-loss.js';

/**
 * One optimizer step and one prediction pass, on images or on cached features. Every function leaves
 * the number of live tensors as it found it (Adam's moments aside, which it creates on its first step).
 */

export interface StepResult {
  /** Mean loss of the batch. */
  loss: number;
  correct: number;
}

/** The model's trainable variables in a fixed order (Adam keys its moments by position). */
export function trainableVariables(model: LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

function runStep(optimizer: tf.Optimizer, variables: tf.Variable[], forward: () => Tensor, labels: Tensor): StepResult {
  let probabilities: Tensor | undefined;
  const cost = optimizer.minimize(
    () => {
      // Kept past minimize()'s tidy, to count correct predictions without a second forward pass.
      probabilities = tf.keep(forward());
      return sparseCategoricalCrossentropy(probabilities, labels);
    },
    true,
    variables,
  )!;
  try {
    const correct = countCorrect(probabilities!, labels);
    const [loss, right] = [cost.dataSync()[0]!, correct.dataSync()[0]!];
    correct.dispose();
    return { loss, correct: right };
  } finally {
    cost.dispose();
    probabilities?.dispose();
  }
}

/** A step of the whole model on a batch of images (float RGB 0..255). */
export function imageTrainStep(
  model: LayersModel,
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  batch: { x: Float32Array; y: Int32Array; size: number },
  imageSize: number,
): StepResult {
  const x = tf.tensor4d(batch.x, [batch.size, imageSize, imageSize, 3]);
  const y = tf.tensor1d(batch.y, 'int32');
  try {
    return runStep(optimizer, variables, () => model.apply(x, { training: true }) as Tensor, y);
  } finally {
    tf.dispose([x, y]);
  }
}

/** The head's layers after avg_pool: top_dropout (absent when its rate is 0) and predictions. */
export interface HeadLayers {
  dropout?: tf.layers.Layer;
  predictions: tf.layers.Layer;
}

export function headLayersOf(model: LayersModel): HeadLayers {
  const find = (name: string) => model.layers.find((l) => l.name === name);
  return { dropout: find('top_dropout'), predictions: model.getLayer('predictions') };
}

function applyHead(head: HeadLayers, features: Tensor, training: boolean): Tensor {
  const dropped = head.dropout && training ? (head.dropout.apply(features, { training }) as Tensor) : features;
  return head.predictions.apply(dropped) as Tensor;
}

/** A step of the head alone on cached avg_pool features: what imageTrainStep does with the base frozen. */
export function featureTrainStep(
  head: HeadLayers,
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  batch: { x: Float32Array; y: Int32Array; size: number },
  featureDim: number,
): StepResult {
  const x = tf.tensor2d(batch.x, [batch.size, featureDim]);
  const y = tf.tensor1d(batch.y, 'int32');
  try {
    return runStep(optimizer, variables, () => applyHead(head, x, true), y);
  } finally {
    tf.dispose([x, y]);
  }
}

/** Class probabilities for a batch of images, in inference mode. */
export function predictImages(model: LayersModel, x: Float32Array, size: number, imageSize: number): Float32Array {
  return tf.tidy(() => {
    const input = tf.tensor4d(x, [size, imageSize, imageSize, 3]);
    return (model.apply(input, { training: false }) as Tensor).dataSync() as Float32Array;
  });
}

/** Class probabilities from cached features, in inference mode. */
export function predictFeatures(head: HeadLayers, x: Float32Array, size: number, featureDim: number): Float32Array {
  return tf.tidy(() => applyHead(head, tf.tensor2d(x, [size, featureDim]), false).dataSync() as Float32Array);
}

/** avg_pool features for a batch of images (the frozen base in inference mode). */
export function extractFeatures(
  extractor: LayersModel,
  x: Float32Array,
  size: number,
  imageSize: number,
): Float32Array {
  return tf.tidy(() => {
    const input = tf.tensor4d(x, [size, imageSize, imageSize, 3]);
    return (extractor.apply(input, { training: false }) as Tensor).dataSync() as Float32Array;
  });
}
