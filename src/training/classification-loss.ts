import { tf, type Tensor } from '../compute/tf.js';

/**
 * Keras' sparse categorical cross-entropy on probabilities (the model ends in a softmax): the predicted
 * probability of the true class, clipped to [1e-7, 1 − 1e-7] as Keras does, −log, averaged over the batch.
 */
const epsilon = 1e-7;

export function sparseCategoricalCrossentropy(probabilities: Tensor, labels: Tensor): tf.Scalar {
  return tf.tidy(() => {
    const numClasses = probabilities.shape[probabilities.shape.length - 1]!;
    const oneHot = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, numClasses);
    const picked = tf.sum(tf.mul(probabilities, oneHot), -1);
    return tf.neg(tf.mean(tf.log(tf.clipByValue(picked, epsilon, 1 - epsilon)))) as tf.Scalar;
  });
}

/** Per-example losses (for validation sums). */
export function perExampleCrossentropy(probabilities: Tensor, labels: Tensor): Tensor {
  return tf.tidy(() => {
    const numClasses = probabilities.shape[probabilities.shape.length - 1]!;
    const oneHot = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, numClasses);
    const picked = tf.sum(tf.mul(probabilities, oneHot), -1);
    return tf.neg(tf.log(tf.clipByValue(picked, epsilon, 1 - epsilon)));
  });
}

/** Number of rows whose arg-max equals the label. */
export function countCorrect(probabilities: Tensor, labels: Tensor): Tensor {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, -1), tf.cast(labels, 'int32')), 'int32')));
}
