import { tf, type LayersModel } from '../compute/tf.js';

/**
 * A model sharing the given EfficientNet's layers and weights whose output is `avg_pool`, the
 * featureDim-wide vector (1280 for B0) the classifier reads. For a model built without head, a new
 * `avg_pool` is put on `top_activation`, as Keras' pooling='avg' does.
 *
 * The extractor owns nothing: dispose the model it came from, never the extractor (tfjs would free
 * the shared weights).
 */

export class FeatureLayerMissingError extends Error {
  constructor(readonly model: string) {
    super(`Model '${model}' has neither an 'avg_pool' nor a 'top_activation' layer to take features from`);
    this.name = 'FeatureLayerMissingError';
  }
}

export function featureExtractor(model: LayersModel): LayersModel {
  const avgPool = model.layers.find((l) => l.name === 'avg_pool');
  let output: tf.SymbolicTensor;
  if (avgPool) {
    output = avgPool.output as tf.SymbolicTensor;
  } else {
    const top = model.layers.find((l) => l.name === 'top_activation');
    if (!top) throw new FeatureLayerMissingError(model.name);
    output = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(top.output) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: model.inputs, outputs: output, name: `${model.name}_features` });
}
