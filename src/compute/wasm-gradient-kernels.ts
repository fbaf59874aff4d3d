import { tf } from './tf.js';
import { makeAxisReductionWasm } from './wasm-kernels/axis-reductions.js';
import { makeChannelBroadcastWasm, makeFusedBatchNormWasm } from './wasm-kernels/channel-affine.js';
import { conv2DBackpropFilterWasm } from './wasm-kernels/conv2d-backprop-filter.js';
import { makeConv2DBackpropInputWasm } from './wasm-kernels/conv2d-backprop-input.js';
import { depthwiseConv2dNativeBackpropFilterWasm } from './wasm-kernels/depthwise-backprop-filter.js';
import { depthwiseConv2dNativeBackpropInputWasm } from './wasm-kernels/depthwise-backprop-input.js';
import { makeIdentityWasm } from './wasm-kernels/identity.js';
import { makeTileWasm } from './wasm-kernels/tile.js';
import { WasmKernelUnsupportedError } from './wasm-kernels/wasm-kernel-errors.js';

export { WasmKernelUnsupportedError };

/** The kernels @tensorflow/tfjs-backend-wasm 4.x lacks for backprop through convolutions; we add them. */
export const addedWasmGradientKernels = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
] as const;

/** Kernels tfjs-backend-wasm has but runs too slowly for training; ours handle the common cases, theirs the rest. */
export const replacedWasmKernels = [
  'Conv2DBackpropInput',
  'Tile',
  'Sum',
  'Mean',
  'FusedBatchNorm',
  'Multiply',
  'Add',
  'Sub',
  'Identity',
] as const;

const replacements: Record<(typeof replacedWasmKernels)[number], (original: tf.KernelFunc) => unknown> = {
  Conv2DBackpropInput: makeConv2DBackpropInputWasm,
  Tile: makeTileWasm,
  Sum: makeAxisReductionWasm('Sum'),
  Mean: makeAxisReductionWasm('Mean'),
  FusedBatchNorm: makeFusedBatchNormWasm,
  Multiply: makeChannelBroadcastWasm('Multiply'),
  Add: makeChannelBroadcastWasm('Add'),
  Sub: makeChannelBroadcastWasm('Sub'),
  Identity: makeIdentityWasm,
};
const replaced = new Set<string>();

/**
 * Registers the gradient kernels tfjs-backend-wasm lacks, and replaces some of its kernels that are too slow
 * for training: Conv2DBackpropInput (matrix products on XNNPACK), Tile (block copies), Sum and Mean over
 * leading or middle axes (row sums instead of a transpose), FusedBatchNorm and channel-vector
 * Multiply/Add/Sub (SIMD per-channel affine maps), and Identity (shares data instead of copying). Each
 * replacement handles the shapes training hits and hands everything else to the original kernel.
 *
 * Call after importing @tensorflow/tfjs-backend-wasm (which registers its own kernels) and before
 * tf.setBackend('wasm'). Safe to call more than once.
 */
export function registerWasmGradientKernels(): void {
  const added: Record<(typeof addedWasmGradientKernels)[number], tf.KernelFunc> = {
    Conv2DBackpropFilter: conv2DBackpropFilterWasm as tf.KernelFunc,
    DepthwiseConv2dNativeBackpropFilter: depthwiseConv2dNativeBackpropFilterWasm as tf.KernelFunc,
    DepthwiseConv2dNativeBackpropInput: depthwiseConv2dNativeBackpropInputWasm as tf.KernelFunc,
  };
  for (const kernelName of addedWasmGradientKernels) {
    if (tf.getKernel(kernelName, 'wasm') != null) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: added[kernelName] });
  }

  for (const kernelName of replacedWasmKernels) {
    if (replaced.has(kernelName)) continue;
    const original = tf.getKernel(kernelName, 'wasm');
    if (original == null) continue;
    tf.unregisterKernel(kernelName, 'wasm');
    // Keep the original setupFunc: it binds the C++ function that the fallback path still calls.
    tf.registerKernel({ ...original, kernelFunc: replacements[kernelName](original.kernelFunc) as tf.KernelFunc });
    replaced.add(kernelName);
  }
}
