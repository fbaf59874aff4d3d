import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, type Tensor } from '../../src/compute/tf.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { featureExtractor } from '../../src/model/feature-extractor.js';
import { useTestBackend } from '../helpers/tf-backend.js';

describe('featureExtractor', () => {
  before(async () => {
    await useTestBackend();
  });

  test('outputs avg_pool, the spatial mean of top_activation, sharing the weights', () => {
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 64, numClasses: 3, seed: 1 });
    const features = featureExtractor(model);
    assert.deepEqual(features.outputs[0]!.shape, [null, 1280]);
    assert.equal(features.layers.length, model.layers.length - 2); // no top_dropout, no predictions
    assert.ok(features.getLayer('stem_conv').weights[0] === model.getLayer('stem_conv').weights[0]);

    const x = tf.randomUniform([2, 64, 64, 3], 0, 255, 'float32', 3);
    const top = tf.model({
      inputs: model.inputs,
      outputs: model.getLayer('top_activation').output as tf.SymbolicTensor,
    });
    const maxDiff = tf.tidy(() => {
      const f = features.predict(x) as Tensor;
      assert.deepEqual(f.shape, [2, 1280]);
      return tf.max(tf.abs(tf.sub(f, tf.mean(top.predict(x) as Tensor, [1, 2])))).dataSync()[0]!;
    });
    assert.ok(maxDiff < 1e-5, `max difference ${maxDiff}`);

    // Same weights: zeroing top_bn's gamma and beta in the model zeroes the features.
    const bn = model.getLayer('top_bn');
    const [, , movingMean, movingVariance] = bn.getWeights();
    tf.tidy(() => bn.setWeights([tf.zeros([1280]), tf.zeros([1280]), movingMean!, movingVariance!]));
    const zeroedMax = tf.tidy(() => tf.max(tf.abs(features.predict(x) as Tensor)).dataSync()[0]);
    assert.equal(zeroedMax, 0);
    tf.dispose(x);
    model.dispose();
  });

  test('puts an avg_pool on a model built without head', () => {
    const model = buildEfficientNet({ architecture: 'b2', imageSize: 32, includeHead: false });
    const features = featureExtractor(model);
    assert.deepEqual(features.outputs[0]!.shape, [null, 1408]);
    assert.equal(features.layers.at(-1)!.name, 'avg_pool');
    model.dispose();
  });
});
