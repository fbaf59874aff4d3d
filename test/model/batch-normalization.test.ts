import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, type LayersModel, type Tensor } from '../../src/compute/tf.js';
import {
  BatchNormalization,
  InvalidBatchNormModeError,
  type BatchNormMode,
} from '../../src/model/batch-normalization.js';
import { useTestBackend } from '../helpers/tf-backend.js';

/** [2, 2, 2, 3] input with distinct per-channel statistics. */
function sampleInput(): Tensor {
  const values = Array.from({ length: 24 }, (_, i) => ((i * 7) % 11) + (i % 3) * 5);
  return tf.tensor4d(values, [2, 2, 2, 3]);
}

/** Per-channel mean and biased variance over the first three axes, in float64. */
function channelMoments(values: Float32Array, channels: number): { mean: number[]; variance: number[] } {
  const n = values.length / channels;
  const mean = Array.from({ length: channels }, (_, c) => {
    let s = 0;
    for (let i = c; i < values.length; i += channels) s += values[i]!;
    return s / n;
  });
  const variance = mean.map((m, c) => {
    let s = 0;
    for (let i = c; i < values.length; i += channels) s += (values[i]! - m) ** 2;
    return s / n;
  });
  return { mean, variance };
}

function built(mode: BatchNormMode, trainable = true): BatchNormalization {
  const layer = new BatchNormalization({ mode, trainable });
  // Building through a concrete call (training=false writes nothing) lets tfjs dispose the layer later.
  tf.dispose(layer.apply(tf.zeros([1, 2, 2, 3]), { training: false }) as Tensor);
  return layer;
}

function weightValues(layer: { getWeights(): Tensor[] }): number[][] {
  return layer.getWeights().map((w) => Array.from(w.dataSync()));
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]!));
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= tolerance * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

/** input [2,2,3] -> BN -> global average pool -> dense(2, softmax); no convolutions, so fit() runs on wasm. */
function tinyModel(mode: BatchNormMode, bnTrainable: boolean): { model: LayersModel; bn: BatchNormalization } {
  const input = tf.input({ shape: [2, 2, 3] });
  const bn = new BatchNormalization({ name: 'bn', mode, trainable: bnTrainable });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(bn.apply(input)) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.ones() })
    .apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output });
  model.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
  return { model, bn };
}

async function fitTwoSteps(model: LayersModel): Promise<void> {
  const x = tf.tidy(() => tf.concat([sampleInput(), tf.mul(sampleInput(), -0.5)], 0));
  const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0], 'int32'), 2);
  await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, shuffle: false });
  tf.dispose([x, y]);
}

describe('BatchNormalization', () => {
  before(async () => {
    await useTestBackend();
  });

  test('has Keras weights in Keras order; moving statistics are never trainable', () => {
    const layer = built('inference');
    assert.deepEqual(
      layer.weights.map((w) => w.originalName),
      ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((w) => `${layer.name}/${w}`),
    );
    assert.deepEqual(
      layer.trainableWeights.map((w) => w.originalName.split('/')[1]),
      ['gamma', 'beta'],
    );
    assert.equal(layer.epsilon, 1e-3);
    assert.equal(layer.momentum, 0.99);
    layer.trainable = false;
    assert.equal(layer.trainableWeights.length, 0);
    assert.equal(layer.nonTrainableWeights.length, 4);
    layer.dispose();
  });

  test('rejects an unknown mode', () => {
    assert.throws(() => new BatchNormalization({ mode: 'eval' as BatchNormMode }), InvalidBatchNormModeError);
    const layer = new BatchNormalization({});
    assert.equal(layer.mode, 'inference');
    assert.throws(() => {
      layer.mode = 'batch' as BatchNormMode;
    }, InvalidBatchNormModeError);
  });

  test('inference mode uses moving statistics even when training=true and never writes them', () => {
    const layer = built('inference');
    layer.setWeights([
      tf.tensor1d([1.5, 0.5, 2]),
      tf.tensor1d([0.1, -0.2, 0.3]),
      tf.tensor1d([4, 6, 8]),
      tf.tensor1d([9, 16, 25]),
    ]);
    const before = weightValues(layer);
    const x = sampleInput();
    const xs = x.dataSync();
    const out = layer.apply(x, { training: true }) as Tensor;
    const [gamma, beta, mean, variance] = before as [number[], number[], number[], number[]];
    const expected = Array.from(xs, (v, i) => {
      const c = i % 3;
      return ((v - mean[c]!) / Math.sqrt(variance[c]! + 1e-3)) * gamma[c]! + beta[c]!;
    });
    assertClose(out.dataSync(), expected, 1e-6, 'output');
    assert.deepEqual(weightValues(layer), before);
    tf.dispose([x, out]);
    layer.dispose();
  });

  test('train mode normalises with batch statistics and moves the averages with momentum 0.99', () => {
    const layer = built('train');
    const x = sampleInput();
    const xs = x.dataSync() as Float32Array;
    const { mean, variance } = channelMoments(xs, 3);
    const out = layer.apply(x, { training: true }) as Tensor;
    const expected = Array.from(xs, (v, i) => (v - mean[i % 3]!) / Math.sqrt(variance[i % 3]! + 1e-3));
    assertClose(out.dataSync(), expected, 1e-5, 'output');
    const [, , movingMean, movingVariance] = weightValues(layer);
    assertClose(
      movingMean!,
      mean.map((m) => 0.99 * 0 + 0.01 * m),
      1e-6,
      'moving_mean',
    );
    assertClose(
      movingVariance!,
      variance.map((v) => 0.99 * 1 + 0.01 * v),
      1e-6,
      'moving_variance',
    );
    tf.dispose([x, out]);
    layer.dispose();
  });

  test('train mode backpropagates through the batch statistics (textbook BN gradient)', () => {
    const layer = built('train');
    const gammaValues = [1.5, 0.5, 2];
    layer.setWeights([tf.tensor1d(gammaValues), tf.tensor1d([0.1, -0.2, 0.3]), tf.zeros([3]), tf.ones([3])]);
    const x = sampleInput();
    const xs = x.dataSync();
    const dyValues = Array.from({ length: 24 }, (_, i) => Math.sin(i + 1));
    const dy = tf.tensor4d(dyValues, [2, 2, 2, 3]);
    const grad = tf.grad((input: Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as Tensor, dy)));
    const dx = grad(x);
    // dx = gamma / sqrt(var + eps) / N * (N * dy - sum(dy) - xhat * sum(dy * xhat)), per channel.
    const { mean, variance } = channelMoments(xs as Float32Array, 3);
    const n = 8;
    const expected = Array.from(xs, (v, i) => {
      const c = i % 3;
      const invStd = 1 / Math.sqrt(variance[c]! + 1e-3);
      let sumDy = 0;
      let sumDyXhat = 0;
      for (let j = c; j < 24; j += 3) {
        sumDy += dyValues[j]!;
        sumDyXhat += dyValues[j]! * (xs[j]! - mean[c]!) * invStd;
      }
      const xhat = (v - mean[c]!) * invStd;
      return ((gammaValues[c]! * invStd) / n) * (n * dyValues[i]! - sumDy - xhat * sumDyXhat);
    });
    assertClose(dx.dataSync(), expected, 1e-4, 'dx');
    tf.dispose([x, dy, dx]);
    layer.dispose();
  });

  test('train mode uses moving statistics at predict time (training=false) and leaves them alone', () => {
    const layer = built('train');
    const before = weightValues(layer);
    const x = sampleInput();
    const out = layer.apply(x, { training: false }) as Tensor;
    assertClose(
      out.dataSync(),
      Array.from(x.dataSync(), (v) => v / Math.sqrt(1 + 1e-3)),
      1e-6,
      'output',
    );
    assert.deepEqual(weightValues(layer), before);
    tf.dispose([x, out]);
    layer.dispose();
  });

  for (const [mode, bnTrainable] of [
    ['inference', true],
    ['inference', false],
    ['train', true],
    ['train', false],
  ] as const) {
    test(`fit(): mode '${mode}', trainable ${bnTrainable}`, async () => {
      const { model, bn } = tinyModel(mode, bnTrainable);
      const [gamma, beta, movingMean, movingVariance] = weightValues(bn);
      await fitTwoSteps(model);
      const after = weightValues(bn);
      const statsMoved =
        after[2]!.some((v, i) => v !== movingMean![i]) && after[3]!.some((v, i) => v !== movingVariance![i]);
      const affineMoved = after[0]!.some((v, i) => v !== gamma![i]) || after[1]!.some((v, i) => v !== beta![i]);
      // Moving statistics change only in train mode; gamma/beta only when trainable: the two are independent.
      assert.equal(statsMoved, mode === 'train', 'moving statistics moved');
      if (mode === 'inference') assert.deepEqual([after[2], after[3]], [movingMean, movingVariance]);
      assert.equal(affineMoved, bnTrainable, 'gamma/beta moved');
      model.dispose();
    });
  }

  test('config carries the mode and round-trips through the serialization registry', () => {
    const layer = new BatchNormalization({ name: 'bn_cfg', mode: 'train', momentum: 0.9, epsilon: 1e-5 });
    const config = layer.getConfig();
    assert.equal(config.mode, 'train');
    assert.equal(layer.getClassName(), 'EffnetBatchNormalization');
    const registered = tf.serialization.SerializationMap.getMap().classNameMap['EffnetBatchNormalization'];
    assert.ok(registered, 'registered');
    const [cls, fromConfig] = registered;
    const restored = fromConfig(cls, config) as BatchNormalization;
    assert.ok(restored instanceof BatchNormalization);
    assert.equal(restored.mode, 'train');
    assert.equal(restored.momentum, 0.9);
    assert.equal(restored.epsilon, 1e-5);
    // tfjs' own BatchNormalization is still the one registered under its name.
    assert.notEqual(
      tf.serialization.SerializationMap.getMap().classNameMap['BatchNormalization']![0],
      BatchNormalization,
    );
  });

  test('gives the same outputs and statistics on the cpu backend as on the test backend', async (t) => {
    const original = tf.getBackend();
    if (original === 'cpu') {
      t.skip('test backend is already cpu');
      return;
    }
    const run = () => {
      const layer = built('train');
      const x = sampleInput();
      const train = layer.apply(x, { training: true }) as Tensor;
      const infer = layer.apply(x, { training: false }) as Tensor;
      const result = [Array.from(train.dataSync()), Array.from(infer.dataSync()), ...weightValues(layer)];
      tf.dispose([x, train, infer]);
      layer.dispose();
      return result;
    };
    const onTestBackend = run();
    await tf.setBackend('cpu');
    try {
      const onCpu = run();
      onCpu.forEach((values, i) => assertClose(values, onTestBackend[i]!, 1e-6, `result ${i}`));
    } finally {
      await tf.setBackend(original);
    }
  });
});
