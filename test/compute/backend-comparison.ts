import assert from 'node:assert/strict';
import { tf } from '../../src/compute/tf.js';

// Helpers for tests that run the same computation on 'wasm' and on 'cpu' (the reference) from the same
// plain arrays. Both backends are registered once selectBackend('wasm') ran.

export type Shape4 = [number, number, number, number];

/** Uniform values in [-0.5, 0.5) from mulberry32: deterministic, so a failure reproduces. */
export function randomArray(size: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

export const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Every element within 1e-4 of the largest reference magnitude. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  const tolerance = 1e-4 * Math.max(scale, 1e-6);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    if (!(diff <= tolerance)) {
      assert.fail(`${label}: element ${i} wasm=${actual[i]} cpu=${expected[i]} (|diff| ${diff} > ${tolerance})`);
    }
  }
}

export interface Computed {
  shape: number[];
  values: Float32Array;
}

/** Runs `make` inside tidy on one backend and copies its result out. */
export async function computeOn(backend: 'wasm' | 'cpu', make: () => tf.Tensor): Promise<Computed> {
  assert.ok(await tf.setBackend(backend), `backend ${backend} unavailable`);
  const out = tf.tidy(make);
  try {
    return { shape: out.shape, values: Float32Array.from(out.dataSync() as ArrayLike<number>) };
  } finally {
    out.dispose();
  }
}

/** `make` on cpu and on wasm: same shape, values within assertClose's tolerance. */
export async function assertSameOnBothBackends(label: string, make: () => tf.Tensor): Promise<void> {
  const cpu = await computeOn('cpu', make);
  const wasm = await computeOn('wasm', make);
  assert.deepEqual(wasm.shape, cpu.shape, `${label}: shape`);
  assertClose(wasm.values, cpu.values, label);
}

/** One kernel, run directly through the engine, on random inputs of the given shapes. */
export async function compareKernel(
  kernelName: string,
  inputs: Record<string, number[]>,
  attrs: Record<string, unknown>,
  label: string,
): Promise<void> {
  const values = Object.entries(inputs).map(
    ([name, shape], i) => [name, shape, randomArray(sizeOf(shape), (i + 1) * 7919)] as const,
  );
  await assertSameOnBothBackends(label, () => {
    const tensors = Object.fromEntries(values.map(([name, shape, v]) => [name, tf.tensor(v, shape)]));
    return tf.engine().runKernel(kernelName, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
  });
}
