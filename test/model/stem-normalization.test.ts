import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, type Tensor } from '../../src/compute/tf.js';
import { imagenetStddevRescale, Rescaling } from '../../src/model/rescaling.js';
import { StemNormalization, StemStatisticsShapeError } from '../../src/model/stem-normalization.js';
import { useTestBackend } from '../helpers/tf-backend.js';

function builtNormalization(): StemNormalization {
  const layer = new StemNormalization({});
  tf.dispose(layer.apply(tf.zeros([1, 1, 1, 3])) as Tensor);
  return layer;
}

describe('StemNormalization (keras.layers.Normalization)', () => {
  before(async () => {
    await useTestBackend();
  });

  test('holds mean, variance, count as non-trainable weights starting at 0, 1, 0', () => {
    const layer = builtNormalization();
    assert.deepEqual(
      layer.weights.map((w) => [w.originalName.split('/')[1], w.shape]),
      [
        ['mean', [3]],
        ['variance', [3]],
        ['count', []],
      ],
    );
    assert.equal(layer.trainableWeights.length, 0);
    layer.trainable = true; // even if someone asks: the layer has no trainable weights at all
    assert.equal(layer.trainableWeights.length, 0);
    assert.deepEqual(layer.statistics(), { mean: [0, 0, 0], variance: [1, 1, 1], count: 0 });
    layer.dispose();
  });

  test('computes (x - mean) / max(sqrt(variance), 1e-7) per channel', () => {
    const layer = builtNormalization();
    layer.setStatistics({ mean: [0.485, 0.456, 0.406], variance: [0.229, 0.224, 0], count: 7 });
    const x = tf.tensor4d([0.1, 0.5, 0.9, 1, 0, 1], [1, 1, 2, 3]);
    const out = layer.apply(x) as Tensor;
    const mean = [0.485, 0.456, 0.406];
    const denominator = [Math.sqrt(0.229), Math.sqrt(0.224), 1e-7];
    const expected = Array.from(x.dataSync(), (v, i) => (v - mean[i % 3]!) / denominator[i % 3]!);
    const actual = out.dataSync();
    expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) <= 1e-5 * Math.max(1, Math.abs(e)), `${i}`));
    assert.equal(layer.statistics().count, 7);
    tf.dispose([x, out]);
    layer.dispose();
  });

  test('setStatistics rejects a wrong channel count', () => {
    const layer = builtNormalization();
    assert.throws(() => layer.setStatistics({ mean: [0, 0], variance: [1, 1] }), StemStatisticsShapeError);
    layer.dispose();
  });
});

describe('Rescaling (keras.layers.Rescaling)', () => {
  before(async () => {
    await useTestBackend();
  });

  test('scales by a scalar or per channel and adds the offset', () => {
    const x = tf.tensor4d([255, 51, 0, 10, 20, 30], [1, 1, 2, 3]);
    const scalar = new Rescaling({ scale: 1 / 255 });
    const perChannel = new Rescaling({ scale: [1, 2, 3], offset: -1 });
    const a = scalar.apply(x) as Tensor;
    const b = perChannel.apply(x) as Tensor;
    const expected = [1, 0.2, 0, 10 / 255, 20 / 255, 30 / 255];
    a.dataSync().forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-7, `${i}`));
    assert.deepEqual(Array.from(b.dataSync()), [254, 101, -1, 9, 39, 89]);
    assert.deepEqual(perChannel.getConfig().scale, [1, 2, 3]);
    tf.dispose([x, a, b]);
  });

  test('the ImageNet rescale is 1/sqrt(stddev) of Keras IMAGENET_STDDEV_RGB', () => {
    assert.deepEqual(imagenetStddevRescale(), [1 / Math.sqrt(0.229), 1 / Math.sqrt(0.224), 1 / Math.sqrt(0.225)]);
  });
});
