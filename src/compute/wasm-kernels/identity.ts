import type { tf } from '../tf.js';
import { asWasmBackend, type TensorInfo } from './wasm-backend-access.js';

/**
 * tfjs-backend-wasm's Identity copies the whole tensor, and the engine runs it to clone every tensor a
 * gradient saves for the backward pass (about 500 activation copies per EfficientNet-B0 step). Tensors are
 * immutable and the wasm backend reference-counts shared data (its Reshape relies on it), so this shares the
 * data as the cpu backend's Identity does. Strings still go to the original.
 */
export function makeIdentityWasm(original: tf.KernelFunc) {
  return function identityWasm(args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  }): TensorInfo | TensorInfo[] {
    const x = args.inputs.x!;
    if (x.dtype === 'string') return original(args as Parameters<tf.KernelFunc>[0]);
    asWasmBackend(args.backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/**
 * tfjs-backend-wasm's Cast copies even when the dtype does not change, and every Multiply gradient casts
 * its other input to float32 (about 170 full-tensor copies per EfficientNet-B0 step). A cast to the same
 * dtype shares the data, as Identity does; real conversions go to the original.
 */
export function makeCastWasm(original: tf.KernelFunc) {
  return function castWasm(args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  }): TensorInfo | TensorInfo[] {
    const x = args.inputs.x!;
    const dtype = (args.attrs as { dtype?: string } | undefined)?.dtype;
    if (x.dtype !== dtype || x.dtype === 'string') return original(args as Parameters<tf.KernelFunc>[0]);
    asWasmBackend(args.backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}
