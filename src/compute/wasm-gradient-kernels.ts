import { tf } from './tf.js';
import { makeAxisReductionWasm } from './wasm-kernels/axis-reductions.js';
import {
  batchNormTrainGradKernelName,
  batchNormTrainGradWasm,
  batchNormTrainKernelName,
  batchNormTrainWasm,
} from './wasm-kernels/batch-norm-train.js';
import { makeChannelBroadcastWasm, makeFusedBatchNormWasm } from './wasm-kernels/channel-affine.js';
import { conv2DBackpropFilterWasm } from './wasm-kernels/conv2d-backprop-filter.js';
import { makeConv2DBackpropInputWasm } from './wasm-kernels/conv2d-backprop-input.js';
import { depthwiseConv2dNativeBackpropFilterWasm } from './wasm-kernels/depthwise-backprop-filter.js';
import { depthwiseConv2dNativeBackpropInputWasm } from './wasm-kernels/depthwise-backprop-input.js';
import { makeCastWasm, makeIdentityWasm } from './wasm-kernels/identity.js';
import { swishGradKernelName, swishGradWasm, swishKernelName, swishWasm } from './wasm-kernels/swish.js';
import { makeTileWasm } from './wasm-kernels/tile.js';
import { WasmKernelUnsupportedError } from './wasm-kernels/wasm-kernel-errors.js';

export { WasmKernelUnsupportedError };

/** The kernels @tensorflow/tfjs-backend-wasm 4.x lacks for backprop through convolutions; we add them. */
export const addedWasmGradientKernels = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
] as const;

/** Kernels of our own (not tfjs ops) that fuse chains of tfjs kernels; callers check they are registered. */
export const fusedWasmKernels = [
  swishKernelName,
  swishGradKernelName,
  batchNormTrainKernelName,
  batchNormTrainGradKernelName,
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
  'Cast',
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
  Cast: makeCastWasm,
};
const replaced = new Set<string>();

/**
 * Registers the gradient kernels tfjs-backend-wasm lacks, and replaces some of its kernels that are too slow
 * for training: Conv2DBackpropInput (matrix products on XNNPACK), Tile (block copies), Sum and Mean over
 * leading or middle axes (row sums instead of a transpose), FusedBatchNorm and channel-vector
 * Multiply/Add/Sub (SIMD per-channel affine maps), and Identity and same-dtype Cast (share data instead of
 * copying). Each replacement handles the shapes training hits and hands everything else to the original
 * kernel. Also registers our fused kernels (fusedWasmKernels: swish and training-mode BatchNormalization,
 * each with its gradient).
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

  const fused: Record<(typeof fusedWasmKernels)[number], tf.KernelFunc> = {
    [swishKernelName]: swishWasm as tf.KernelFunc,
    [swishGradKernelName]: swishGradWasm as tf.KernelFunc,
    [batchNormTrainKernelName]: batchNormTrainWasm as tf.KernelFunc,
    [batchNormTrainGradKernelName]: batchNormTrainGradWasm as tf.KernelFunc,
  };
  for (const kernelName of fusedWasmKernels) {
    if (tf.getKernel(kernelName, 'wasm') != null) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fused[kernelName] });
  }
  if (tf.getGradient(swishKernelName) == null) {
    tf.registerGradient({
      kernelName: swishKernelName,
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({
        x: () => tf.engine().runKernel(swishGradKernelName, { x: saved[0]!, dy: dy as tf.Tensor }, {}) as tf.Tensor,
      }),
    });
  }
  if (tf.getGradient(batchNormTrainKernelName) == null) {
    tf.registerGradient({
      kernelName: batchNormTrainKernelName,
      inputsToSave: ['x', 'gamma'],
      outputsToSave: [false, true, true],
      gradFunc: (dys, saved, attrs) => {
        const [x, gamma, mean, variance] = saved as tf.Tensor[];
        // One kernel gives all three gradients, so it runs here rather than in a per-input thunk (whose tidy
        // would dispose the other two). The backward pass's own scope frees whichever go unused.
        const dy = (dys as tf.Tensor[])[0]!;
        const [dx, dgamma, dbeta] = tf
          .engine()
          .runKernel(
            batchNormTrainGradKernelName,
            { dy, x: x!, gamma: gamma!, mean: mean!, variance: variance! },
            attrs,
          ) as tf.Tensor[];
        return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
      },
    });
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
