/**
 * TensorFlow's SAME padding for one spatial axis, as explicit ONNX pads: the output has
 * ceil(input / stride) positions, and when the total padding is odd the extra row/column goes at the
 * end (bottom/right). ONNX's auto_pad=SAME_UPPER means the same, but explicit pads leave no room for
 * a runtime to read it differently.
 */
export function tfSamePadding(
  inputSize: number,
  kernelSize: number,
  stride: number,
  dilation = 1,
): { begin: number; end: number } {
  const outputSize = Math.ceil(inputSize / stride);
  const effectiveKernel = (kernelSize - 1) * dilation + 1;
  const total = Math.max((outputSize - 1) * stride + effectiveKernel - inputSize, 0);
  const begin = Math.floor(total / 2);
  return { begin, end: total - begin };
}
