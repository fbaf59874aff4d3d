import { tf } from '../tf.js';
import { simdKernelsFor } from './simd-kernels.js';
import { asWasmBackend, heapAddress, heapF32, type TensorInfo, type WasmBackend } from './wasm-backend-access.js';

/**
 * Adam's update of every variable in one pass over its weights, moments and gradient, on the wasm heap in
 * SIMD. tfjs' AdamOptimizer runs about 14 kernels per variable (3,000 calls a step for EfficientNet-B0, each
 * with its dispatch and its own pass over memory); this runs none. The float32 operations are tfjs'
 * own, in its order, so the weights it produces are the ones tf.train.adam would.
 */

/** The step's scalars, as tfjs' AdamOptimizer.applyGradients uses them. */
export interface AdamScalars {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  /** 1 - beta1^t in float32, as tfjs computes it from its accBeta1 variable. */
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
}

export interface AdamSlot {
  weights: TensorInfo;
  m: TensorInfo;
  v: TensorInfo;
  gradient: TensorInfo;
}

/** The tensors an update produced: new weights always, new moments only where they could not be updated in place. */
export interface AdamSlotResult {
  weights: TensorInfo;
  m?: TensorInfo;
  v?: TensorInfo;
}

/**
 * An updater bound to the current backend, or null when it is not wasm with SIMD (use tfjs' optimizer then).
 * Every tensor it is given must be float32 and on that backend.
 */
export function wasmAdamUpdater(
  backend: unknown,
): ((slots: AdamSlot[], scalars: AdamScalars) => AdamSlotResult[]) | null {
  if (tf.getBackend() !== 'wasm') return null;
  const wasm = asWasmBackend(backend);
  const simd = simdKernelsFor(wasm);
  if (simd == null) return null;
  return (slots, scalars) => {
    const constants = wasm.makeOutput([4 * 8], 'float32');
    try {
      const { beta1, beta2, epsilon, learningRate, oneMinusAccBeta1, oneMinusAccBeta2 } = scalars;
      // tfjs turns each JS number into a float32 scalar tensor: Float32Array rounds them the same way.
      const values = new Float32Array([
        beta1,
        1 - beta1,
        beta2,
        1 - beta2,
        oneMinusAccBeta1,
        oneMinusAccBeta2,
        epsilon,
        -learningRate,
      ]);
      const splat = heapF32(wasm, constants);
      values.forEach((value, i) => splat.fill(value, 4 * i, 4 * i + 4));
      return slots.map((slot) => {
        // Weights always get new memory: XNNPACK caches packed copies of conv and matmul weights by tensor id.
        const results: AdamSlotResult = { weights: wasm.makeOutput([...slot.weights.shape], 'float32') };
        if (!ownsData(wasm, slot.m)) results.m = copyOf(wasm, slot.m);
        if (!ownsData(wasm, slot.v)) results.v = copyOf(wasm, slot.v);
        const size = tf.util.sizeFromShape(slot.weights.shape);
        const simdSize = size - (size % 4);
        const [w, out, m, v, g] = [
          slot.weights,
          results.weights,
          results.m ?? slot.m,
          results.v ?? slot.v,
          slot.gradient,
        ];
        simd.adamUpdate(
          heapAddress(wasm, w),
          heapAddress(wasm, out),
          heapAddress(wasm, m),
          heapAddress(wasm, v),
          heapAddress(wasm, g),
          simdSize * 4,
          heapAddress(wasm, constants),
        );
        if (simdSize < size) {
          updateTail([w, out, m, v, g].map((t) => heapF32(wasm, t)) as Views, simdSize, size, values);
        }
        return results;
      });
    } finally {
      wasm.disposeData(constants.dataId);
    }
  };
}

type Views = [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];

/** The last size % 4 elements, in the same float32 operations (each rounded with Math.fround). */
function updateTail([w, out, m, v, g]: Views, from: number, to: number, c: Float32Array): void {
  const f = Math.fround;
  const [b1, oneMinusB1, b2, oneMinusB2, c1, c2, eps, negLr] = c as unknown as number[];
  for (let i = from; i < to; i++) {
    const grad = g[i]!;
    const mNew = f(f(m[i]! * b1!) + f(grad * oneMinusB1!));
    const vNew = f(f(v[i]! * b2!) + f(f(grad * grad) * oneMinusB2!));
    m[i] = mNew;
    v[i] = vNew;
    out[i] = f(f(f(f(mNew / c1!) / f(f(Math.sqrt(f(vNew / c2!))) + eps!)) * negLr!) + w[i]!);
  }
}

/** Whether the tensor is the only owner of its memory, so writing it in place changes nothing else. */
function ownsData(backend: WasmBackend, info: TensorInfo): boolean {
  return backend.refCount?.(info.dataId) === 1;
}

function copyOf(backend: WasmBackend, info: TensorInfo): TensorInfo {
  const out = backend.makeOutput([...info.shape], 'float32');
  heapF32(backend, out).set(heapF32(backend, info));
  return out;
}
