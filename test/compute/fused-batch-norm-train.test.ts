import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, type Tensor } from '../../src/compute/tf.js';
import {
  batchNormTrainGradKernelName,
  batchNormTrainKernelName,
} from '../../src/compute/wasm-kernels/batch-norm-train.js';
import { BatchNormalization } from '../../src/model/batch-normalization.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { assertClose, randomArray, sizeOf } from './backend-comparison.js';

// Training-mode BatchNormalization through our fused kernels on wasm against the unfused tfjs ops
// (tf.moments + tf.batchNorm and their gradients) on the cpu backend: output, moving statistics and the
// gradients of x, gamma and beta.

/** Everything one training-mode call of a BatchNormalization layer produces, copied out as arrays. */
function trainingCall(shape: number[], seed: number): Record<string, Float32Array> {
  const channels = shape[shape.length - 1]!;
  const layer = new BatchNormalization({ mode: 'train', momentum: 0.9 });
  layer.build(shape);
  const params = [0.5, 0.2, 0.3, 1].map((spread, i) =>
    tf
      .tensor(randomArray(channels, seed + i))
      .mul(spread)
      .add(i === 3 ? 1 : 0),
  );
  layer.setWeights(params);
  // An offset and spread per tensor, so the statistics are not trivially 0 and 1.
  const x = tf.variable(
    tf
      .tensor(randomArray(sizeOf(shape), seed + 10), shape)
      .mul(4)
      .add(1.5),
  );
  const weights = tf.tensor(randomArray(sizeOf(shape), seed + 11), shape);
  const [gamma, beta] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  let y: Tensor | undefined;
  const { grads, value } = tf.variableGrads(() => {
    y = tf.keep(layer.apply(x, { training: true }) as Tensor);
    return tf.sum(tf.mul(y, weights));
  }, [x, gamma!, beta!]);
  const read = (t: Tensor) => Float32Array.from(t.dataSync());
  const [, , movingMean, movingVariance] = layer.getWeights();
  const out = {
    y: read(y!),
    dx: read(grads[x.name]!),
    dgamma: read(grads[gamma!.name]!),
    dbeta: read(grads[beta!.name]!),
    movingMean: read(movingMean!),
    movingVariance: read(movingVariance!),
  };
  tf.dispose([...params, x, weights, y!, value, ...Object.values(grads), ...layer.weights.map((w) => w.read())]);
  return out;
}

async function compare(shape: number[], seed: number): Promise<void> {
  assert.ok(await tf.setBackend('cpu'));
  const cpu = trainingCall(shape, seed);
  assert.ok(await tf.setBackend('wasm'));
  const wasm = trainingCall(shape, seed);
  for (const key of Object.keys(cpu)) assertClose(wasm[key]!, cpu[key]!, `${shape.join('x')} ${key}`);
}

describe('fused training-mode BatchNormalization', () => {
  before(async () => {
    await useTestBackend('wasm');
  });

  test('runs as one kernel each way on wasm', async () => {
    assert.ok(await tf.setBackend('wasm'));
    const names: string[] = [];
    const profile = await tf.profile(() => void trainingCall([2, 3, 3, 8], 1));
    names.push(...profile.kernels.map((k) => k.name));
    assert.ok(names.includes(batchNormTrainKernelName), names.join(','));
    assert.ok(names.includes(batchNormTrainGradKernelName), names.join(','));
    assert.ok(!names.includes('FusedBatchNorm'), names.join(','));
  });

  test('matches the unfused ops on cpu: an activation', async () => {
    await compare([4, 6, 6, 16], 1);
  });

  test('matches the unfused ops on cpu: one pixel per image, as after pooling', async () => {
    await compare([8, 1, 1, 12], 2);
  });

  test('matches the unfused ops on cpu: rank 2', async () => {
    await compare([5, 8], 3);
  });

  test('channels not a multiple of 4 take the unfused ops and still agree', async () => {
    await compare([3, 4, 4, 6], 4);
  });
});
