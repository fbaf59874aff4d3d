import { tf } from '../tf.js';
import { simdKernelsFor } from './simd-kernels.js';
import { asWasmBackend, heapAddress, heapF32, runWasmKernel, type TensorInfo } from './wasm-backend-access.js';
import { WasmKernelUnsupportedError } from './wasm-kernel-errors.js';

/**
 * swish(x) = x * sigmoid(x) as one kernel, and its gradient as another. tfjs-layers computes swish as
 * sigmoid(x * 1) * x: three kernels and three passes over the activation, and its gradient takes about ten
 * more (two products, the sigmoid's gradient, a sum, with their casts). Here each direction is one kernel:
 * XNNPACK's sigmoid into the output, then one SIMD pass in place. EfficientNet-B0 has 49 swish activations.
 */

export const swishKernelName = 'EffnetSwish';
export const swishGradKernelName = 'EffnetSwishGrad';

/** Forward: y = x * sigmoid(x). */
export function swishWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfo {
  const x = args.inputs.x!;
  const backend = asWasmBackend(args.backend);
  const simd = simdKernelsFor(backend);
  if (simd == null || x.dtype !== 'float32')
    throw new WasmKernelUnsupportedError(swishKernelName, 'needs float32 and SIMD');
  const out = runWasmKernel(backend, 'Sigmoid', { x });
  const size = tf.util.sizeFromShape(x.shape);
  const simdSize = size - (size % 4);
  simd.swishFromSigmoid(heapAddress(backend, out), heapAddress(backend, x), simdSize * 4);
  if (simdSize < size) {
    const [s, xs] = [heapF32(backend, out), heapF32(backend, x)];
    for (let i = simdSize; i < size; i++) s[i] = Math.fround(s[i]! * xs[i]!);
  }
  return out;
}

/** Backward: dx = dy * (s * (1 + x * (1 - s))) with s = sigmoid(x). */
export function swishGradWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const backend = asWasmBackend(args.backend);
  const simd = simdKernelsFor(backend);
  if (simd == null || x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new WasmKernelUnsupportedError(swishGradKernelName, 'needs float32 and SIMD');
  }
  const out = runWasmKernel(backend, 'Sigmoid', { x });
  const size = tf.util.sizeFromShape(x.shape);
  const simdSize = size - (size % 4);
  simd.swishGradFromSigmoid(heapAddress(backend, out), heapAddress(backend, x), heapAddress(backend, dy), simdSize * 4);
  if (simdSize < size) {
    const f = Math.fround;
    const [s, xs, g] = [heapF32(backend, out), heapF32(backend, x), heapF32(backend, dy)];
    for (let i = simdSize; i < size; i++) s[i] = f(g[i]! * f(s[i]! * f(1 + f(xs[i]! * f(1 - s[i]!)))));
  }
  return out;
}
