import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { tf } from '../../src/compute/tf.js';
import { FusedAdamOptimizer, createAdam } from '../../src/training/fused-adam.js';
import { loadOptimizerState, saveOptimizerState } from '../../src/training/model-weights-io.js';
import { randomArray } from '../compute/backend-comparison.js';
import { tempDir } from '../helpers/temp-dir.js';
import { useTestBackend } from '../helpers/tf-backend.js';

// FusedAdamOptimizer must be tf.train.adam: same weights and moments after several steps (sizes that are and
// are not multiples of 4, so both the SIMD loop and the scalar tail run), same saved state.

const shapes = [[3, 3, 8, 16], [6], [10], [1], [5, 7], [4, 4]];

/** Fresh variables with the same starting values for each optimizer. */
function makeVariables(tag: string): tf.Variable[] {
  return shapes.map((shape, i) =>
    tf.variable(tf.tensor(randomArray(tf.util.sizeFromShape(shape), 100 + i), shape), true, `${tag}_${i}`),
  );
}

/** Gradients of step `step` (the same for both optimizers), scaled so the moments see a range of magnitudes. */
function gradients(variables: tf.Variable[], step: number): { name: string; tensor: tf.Tensor }[] {
  return variables.map((v, i) => ({
    name: v.name,
    tensor: tf.tensor(randomArray(v.size, 1000 * step + i), v.shape).mul(10 ** ((i % 3) - 1)),
  }));
}

function run(optimizer: tf.Optimizer, variables: tf.Variable[], steps: number, from = 0): void {
  for (let s = from; s < from + steps; s++) {
    tf.tidy(() => optimizer.applyGradients(gradients(variables, s)));
  }
}

/** Every element within 1e-6 relative (with a floor for values near zero). */
function assertCloseRelative(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 1e-6 * Math.max(Math.abs(expected[i]!), 1e-6);
    const diff = Math.abs(actual[i]! - expected[i]!);
    if (!(diff <= tolerance)) assert.fail(`${label}[${i}]: fused ${actual[i]} tfjs ${expected[i]} (diff ${diff})`);
  }
}

async function state(optimizer: tf.Optimizer): Promise<{ name: string; values: Float32Array }[]> {
  const weights = await optimizer.getWeights();
  const out = weights.map((w) => ({ name: w.name, values: Float32Array.from(w.tensor.dataSync()) }));
  weights[0]!.tensor.dispose();
  return out;
}

describe('FusedAdamOptimizer', () => {
  before(async () => {
    await useTestBackend('wasm');
  });

  test('takes the fused path on wasm', () => {
    // If the SIMD update were unavailable the optimizer would silently be tf.train.adam: the other tests
    // would pass without testing anything, so check that no kernel runs for the update itself.
    const variables = makeVariables('path');
    const optimizer = createAdam(0.01);
    run(optimizer, variables, 1); // creates the moments
    const grads = gradients(variables, 1);
    const before = tf.memory().numTensors;
    let kernels = 0;
    const profile = tf.profile(() => optimizer.applyGradients(grads));
    return profile.then((p) => {
      kernels = p.kernels.length;
      // accBeta1 and accBeta2: one Multiply each.
      assert.equal(kernels, 2, p.kernels.map((k) => k.name).join(','));
      assert.equal(tf.memory().numTensors, before);
      tf.dispose(grads.map((g) => g.tensor));
      optimizer.dispose();
      tf.dispose(variables);
    });
  });

  test('matches tf.train.adam over several steps, weights and moments', async () => {
    const reference = makeVariables('ref');
    const fused = makeVariables('fused');
    const adam = tf.train.adam(0.01);
    const ours = new FusedAdamOptimizer(0.01, 0.9, 0.999);
    run(adam, reference, 4);
    run(ours, fused, 4);
    reference.forEach((v, i) => assertCloseRelative(fused[i]!.dataSync(), v.dataSync(), `weights ${i}`));
    const [a, b] = [await state(adam), await state(ours)];
    assert.deepEqual(
      b.map((w) => w.name.replace('fused', 'ref')),
      a.map((w) => w.name),
    );
    a.forEach((w, i) => assertCloseRelative(b[i]!.values, w.values, w.name));
    adam.dispose();
    ours.dispose();
    tf.dispose([...reference, ...fused]);
  });

  test("leaves tensors that share a moment's memory alone", () => {
    const variables = makeVariables('shared');
    const optimizer = createAdam(0.01);
    run(optimizer, variables, 1);
    const m = (optimizer as unknown as { accumulatedFirstMoment: { variable: tf.Variable }[] })
      .accumulatedFirstMoment[0]!.variable;
    const copy = tf.clone(m); // shares m's data on wasm
    const before = Float32Array.from(copy.dataSync());
    run(optimizer, variables, 1, 1);
    assert.deepEqual(Float32Array.from(copy.dataSync()), before);
    assert.notDeepEqual(Float32Array.from(m.dataSync()), before);
    copy.dispose();
    optimizer.dispose();
    tf.dispose(variables);
  });

  test('a state saved and restored into a new optimizer continues like the uninterrupted one', async (t) => {
    const dir = await tempDir(t);
    const straight = makeVariables('straight');
    const resumed = makeVariables('resumed');
    const a = createAdam(0.01);
    run(a, straight, 5);

    const b = createAdam(0.01);
    run(b, resumed, 3);
    const file = path.join(dir, 'optimizer.weights');
    await saveOptimizerState(b, file);
    b.dispose();
    const c = createAdam(0.01);
    await loadOptimizerState(c, file);
    run(c, resumed, 2, 3);

    straight.forEach((v, i) => assert.deepEqual(resumed[i]!.dataSync(), v.dataSync(), `weights ${i}`));
    a.dispose();
    c.dispose();
    tf.dispose([...straight, ...resumed]);
  });
});
