import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../../src/compute/tf.js';
import { simdKernelsFor } from '../../src/compute/wasm-kernels/simd-kernels.js';
import { asWasmBackend } from '../../src/compute/wasm-kernels/wasm-backend-access.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { assertSameOnBothBackends, computeOn, randomArray, sizeOf, type Shape4 } from './backend-comparison.js';

// Kernels of tfjs-backend-wasm that registerWasmGradientKernels() replaces with faster ones: each must match
// the cpu backend on the shapes it handles and on the ones it hands back to the original kernel.

describe('replaced wasm kernels agree with the cpu backend', () => {
  before(async () => {
    await useTestBackend('wasm');
  });

  test('the SIMD module assembles and binds to the wasm heap', async () => {
    // Without it every kernel still works (through slower loops), so only this test would notice.
    assert.ok(await tf.setBackend('wasm'));
    const kernels = simdKernelsFor(asWasmBackend(tf.backend()));
    assert.ok(kernels, 'SIMD kernels unavailable');
    assert.equal(typeof kernels.depthwiseFilterGradImage, 'function');
  });

  test('Tile matches cpu for float32, int32 and bool', async () => {
    // [input shape, reps]
    const cases: [number[], number[]][] = [
      [
        [1, 1, 1, 5],
        [8, 6, 7, 1],
      ], // BatchNormalization gradient: a channel vector to a full activation
      [
        [2, 3, 1, 1],
        [1, 1, 4, 20],
      ],
      [
        [3, 1, 4],
        [2, 5, 1],
      ],
      [[40], [3]],
      [
        [2, 17],
        [1, 1],
      ],
      [
        [2, 0, 3],
        [2, 2, 2],
      ],
      [
        [1, 2, 1, 3, 1],
        [2, 1, 3, 1, 2],
      ],
    ];
    for (const [shape, reps] of cases) {
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const values = Array.from(randomArray(sizeOf(shape), sizeOf(reps) + shape.length), (v) =>
          dtype === 'float32' ? v : dtype === 'int32' ? Math.round(v * 1000) : v > 0 ? 1 : 0,
        );
        const make = () => tf.tile(tf.tensor(values, shape, dtype), reps);
        const cpu = await computeOn('cpu', make);
        const wasm = await computeOn('wasm', make);
        const label = `tile ${shape} by ${reps} (${dtype})`;
        assert.deepEqual(
          wasm.shape,
          shape.map((d, i) => d * reps[i]!),
          label,
        );
        assert.deepEqual(Array.from(wasm.values), Array.from(cpu.values), label);
      }
    }
  });

  test('Sum and Mean match cpu over every kind of axis set', async () => {
    // [input shape, axis, why]
    const cases: [number[], number | number[], string][] = [
      [[8, 6, 5, 12], [0, 1, 2], 'BatchNormalization statistics: SIMD row sums'],
      [[3, 7, 5, 8], [1, 2], 'squeeze-excitation pooling'],
      [[600, 4], 0, 'more rows than one float32 chunk'],
      [[4, 5, 3], [0, 1], 'kept size not a multiple of 4: loop'],
      [[2, 3, 4, 5], [-3, -2], 'negative axes'],
      [[4, 6, 8], [2], 'last axis: original kernel'],
      [[4, 6, 8], [0, 2], 'not contiguous: original kernel'],
      [[4, 6, 8], [0, 1, 2], 'every axis: original kernel'],
    ];
    for (const [shape, axis, why] of cases) {
      const values = randomArray(sizeOf(shape), sizeOf(shape) + 3);
      for (const keepDims of [false, true]) {
        for (const op of ['sum', 'mean'] as const) {
          await assertSameOnBothBackends(
            `${op} of ${shape} over ${JSON.stringify(axis)}, keepDims ${keepDims} (${why})`,
            () => tf[op](tf.tensor(values, shape), axis, keepDims),
          );
        }
      }
    }
  });

  test('Multiply, Add and Sub with a channel vector, and FusedBatchNorm, match cpu', async () => {
    const full: Shape4 = [4, 9, 8, 16];
    const x = randomArray(sizeOf(full), 11);
    // The last one is a scalar broadcast, which goes to the original kernels.
    for (const vectorShape of [[16], [1, 1, 1, 16], [1, 16], [1, 1, 1, 1]]) {
      const v = randomArray(sizeOf(vectorShape), 12);
      for (const op of ['mul', 'add', 'sub'] as const) {
        await assertSameOnBothBackends(`${op}(full, ${vectorShape})`, () =>
          tf[op](tf.tensor(x, full), tf.tensor(v, vectorShape)),
        );
        await assertSameOnBothBackends(`${op}(${vectorShape}, full)`, () =>
          tf[op](tf.tensor(v, vectorShape), tf.tensor(x, full)),
        );
      }
    }
    // One channel vector per sample (the squeeze-excitation gate), also the other way round and for each op.
    const gate = randomArray(4 * 16, 13);
    for (const op of ['mul', 'add', 'sub'] as const) {
      await assertSameOnBothBackends(`${op}(full, [4, 1, 1, 16])`, () =>
        tf[op](tf.tensor(x, full), tf.tensor(gate, [4, 1, 1, 16])),
      );
      await assertSameOnBothBackends(`${op}([4, 1, 1, 16], full)`, () =>
        tf[op](tf.tensor(gate, [4, 1, 1, 16]), tf.tensor(x, full)),
      );
    }
    const param = (seed: number, size = 16, shift = 0) => Array.from(randomArray(size, seed), (v) => v + shift);
    // Three channels (an RGB input): parameters repeated over 12 lanes.
    const rgb: Shape4 = [2, 32, 32, 3];
    await assertSameOnBothBackends('batchNorm over 3 channels', () =>
      tf.batchNorm(
        tf.tensor4d(randomArray(sizeOf(rgb), 14), rgb),
        param(1, 3),
        param(2, 3, 1),
        param(3, 3),
        param(4, 3),
        0,
      ),
    );
    const six: Shape4 = [2, 30, 30, 6];
    await assertSameOnBothBackends('batchNorm over 6 channels', () =>
      tf.batchNorm(
        tf.tensor4d(randomArray(sizeOf(six), 15), six),
        param(1, 6),
        param(2, 6, 1),
        param(3, 6),
        param(4, 6),
        1e-3,
      ),
    );
    await assertSameOnBothBackends('batchNorm with every parameter', () =>
      tf.batchNorm(tf.tensor4d(x, full), param(1), param(2, 16, 1), param(3), param(4), 1e-3),
    );
    await assertSameOnBothBackends('batchNorm without offset and scale', () =>
      tf.batchNorm(tf.tensor4d(x, full), param(1), param(2, 16, 1), undefined, undefined, 1e-3),
    );
    await assertSameOnBothBackends('batchNorm with size-1 parameters', () =>
      tf.batchNorm(tf.tensor4d(x, full), param(1, 1), param(2, 1, 1), param(3, 1), param(4, 1), 1e-3),
    );
  });

  test('Identity shares data safely: clones outlive and survive their source', async () => {
    assert.ok(await tf.setBackend('wasm'));
    const before = tf.memory().numTensors;
    const a = tf.tensor([1, 2, 3, 4], [2, 2]);
    const b = tf.clone(a);
    a.dispose();
    assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3, 4]);
    const c = tf.clone(b);
    b.dispose();
    assert.deepEqual(c.shape, [2, 2]);
    const d = c.add(1);
    assert.deepEqual(Array.from(d.dataSync()), [2, 3, 4, 5]);
    assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3, 4]);
    tf.dispose([c, d]);
    const strings = tf.tensor(['x', 'y']);
    const stringsClone = tf.clone(strings);
    assert.deepEqual(stringsClone.arraySync(), ['x', 'y']);
    tf.dispose([strings, stringsClone]);
    assert.equal(tf.memory().numTensors, before);
  });

  test('Cast to the same dtype shares data safely; real conversions still convert', async () => {
    assert.ok(await tf.setBackend('wasm'));
    const before = tf.memory().numTensors;
    const a = tf.tensor([1.5, -2.5, 3.25]);
    const same = tf.cast(a, 'float32');
    assert.equal(same.dataId, a.dataId, 'no copy');
    a.dispose();
    assert.deepEqual(Array.from(same.dataSync()), [1.5, -2.5, 3.25]);
    const toInt = tf.cast(same, 'int32');
    assert.equal(toInt.dtype, 'int32');
    assert.deepEqual(Array.from(toInt.dataSync()), [1, -2, 3]);
    const back = tf.cast(toInt, 'float32');
    assert.deepEqual(Array.from(back.dataSync()), [1, -2, 3]);
    tf.dispose([same, toInt, back]);
    assert.equal(tf.memory().numTensors, before);
  });
});
