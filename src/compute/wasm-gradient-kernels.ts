/**
 * Gradient kernels that @tensorflow/tfjs-backend-wasm lacks (Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropFilter, DepthwiseConv2dNativeBackpropInput). Registered before the
 * wasm backend is used so full fine-tuning runs on wasm. Filled in by the speed work (issue 6).
 */
export function registerWasmGradientKernels(): void {
  // Intentionally empty until the kernels land.
}
