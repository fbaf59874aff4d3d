import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../../src/compute/tf.js';
import { swishGradKernelName, swishKernelName } from '../../src/compute/wasm-kernels/swish.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { FusedSwish, swish } from '../../src/model/fused-swish.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { assertSameOnBothBackends, randomArray, sizeOf } from './backend-comparison.js';

// The fused swish kernels on wasm against tfjs-layers' swish (sigmoid(x * 1) * x) on the cpu backend.

const shapes = [
  [8, 12, 12, 32], // an activation
  [2, 1, 1, 6], // an SE reduction with a size not a multiple of 4 (scalar tail)
  [3],
];

/** Inputs spanning the sigmoid's tails too. */
const input = (shape: number[], seed: number) => tf.tensor(randomArray(sizeOf(shape), seed), shape).mul(16);

describe('fused swish', () => {
  before(async () => {
    await useTestBackend('wasm');
  });

  test('runs as one kernel each way on wasm', async () => {
    assert.ok(await tf.setBackend('wasm'));
    const x = input([4, 8], 1);
    const profile = await tf.profile(() => tf.grad((t: tf.Tensor) => swish(t).sum())(x));
    const names = profile.kernels.map((k) => k.name);
    assert.ok(names.includes(swishKernelName), names.join(','));
    assert.ok(names.includes(swishGradKernelName), names.join(','));
    assert.ok(!names.includes('Sigmoid'), names.join(','));
    x.dispose();
  });

  for (const shape of shapes) {
    test(`forward matches tfjs' swish on cpu, ${shape.join('x')}`, async () => {
      await assertSameOnBothBackends('swish', () => swish(input(shape, 2)));
    });

    test(`gradient matches tfjs' swish gradient on cpu, ${shape.join('x')}`, async () => {
      await assertSameOnBothBackends('swish grad', () => {
        const weights = tf.tensor(randomArray(sizeOf(shape), 3), shape);
        return tf.grad((x: tf.Tensor) => swish(x).mul(weights).sum())(input(shape, 4));
      });
    });
  }

  test('is exact enough across the whole float range, tails included', async () => {
    assert.ok(await tf.setBackend('wasm'));
    const values = [-1000, -100, -88, -87.5, -30, -10, -1, -1e-3, 0, 1e-3, 0.5, 1, 3, 10, 20, 87.5, 100, 1000];
    const padded = [...values, ...values.map((v) => v / 7)];
    const y = swish(tf.tensor(padded));
    const got = y.dataSync();
    padded.forEach((v, i) => {
      const expected = v / (1 + Math.exp(-v));
      assert.ok(
        Math.abs(got[i]! - expected) <= 1e-6 * Math.abs(expected) + 1e-30,
        `swish(${v}) = ${got[i]}, expected ${expected}`,
      );
    });
    y.dispose();
  });

  test('a model keeps serialising its activations as swish', () => {
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 32, numClasses: 2, seed: 1 });
    const layer = model.getLayer('stem_activation') as unknown as { activation: unknown };
    assert.ok(layer.activation instanceof FusedSwish);
    const json = JSON.stringify(model.toJSON(null, false));
    assert.ok(json.includes('"activation":"swish"'));
    assert.ok(!json.includes('FusedSwish'));
    model.dispose();
  });
});
