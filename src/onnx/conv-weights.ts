import type { ChannelAffine } from './channel-affine.js';

/**
 * Convolution weights moved from tfjs' layouts to ONNX's Conv layout [out, in/group, kh, kw], and a
 * following per-channel affine map (inference BatchNormalization) folded into them:
 * conv(x, W) * s + o == conv(x, W * s) + o, so the folded conv is exact up to one float32 rounding.
 */

export interface OnnxConvWeights {
  /** [outChannels, inChannels / group, kh, kw] */
  weights: Float64Array;
  dims: [number, number, number, number];
  bias: Float64Array;
  /** False for a bias-free conv nothing was folded into: ONNX then gets no bias input. */
  hasBias: boolean;
}

/** tfjs Conv2D kernel [kh, kw, in, out] (+ optional bias) to ONNX [out, in, kh, kw]. */
export function conv2dWeights(
  kernel: ArrayLike<number>,
  shape: readonly number[],
  bias: ArrayLike<number> | undefined,
): OnnxConvWeights {
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  const weights = new Float64Array(kernel.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let c = 0; c < cin; c++) {
        const from = ((y * kw + x) * cin + c) * cout;
        for (let o = 0; o < cout; o++) weights[((o * cin + c) * kh + y) * kw + x] = kernel[from + o]!;
      }
    }
  }
  return { weights, dims: [cout, cin, kh, kw], bias: biasOrZeros(bias, cout), hasBias: bias !== undefined };
}

/**
 * tfjs DepthwiseConv2D kernel [kh, kw, in, multiplier] to ONNX [in * multiplier, 1, kh, kw] for a Conv
 * with group = in. tfjs orders output channels c * multiplier + m, which is ONNX's group-major order.
 */
export function depthwiseConv2dWeights(
  kernel: ArrayLike<number>,
  shape: readonly number[],
  bias: ArrayLike<number> | undefined,
): OnnxConvWeights {
  const [kh, kw, cin, multiplier] = shape as [number, number, number, number];
  const cout = cin * multiplier;
  const weights = new Float64Array(kernel.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const from = (y * kw + x) * cout;
      for (let o = 0; o < cout; o++) weights[(o * kh + y) * kw + x] = kernel[from + o]!;
    }
  }
  return { weights, dims: [cout, 1, kh, kw], bias: biasOrZeros(bias, cout), hasBias: bias !== undefined };
}

/** The conv followed by `affine` on its output channels, as one conv. */
export function foldAffineIntoConv(conv: OnnxConvWeights, affine: ChannelAffine): OnnxConvWeights {
  const [cout] = conv.dims;
  const perOutput = conv.weights.length / cout;
  const weights = new Float64Array(conv.weights.length);
  const bias = new Float64Array(cout);
  for (let o = 0; o < cout; o++) {
    const scale = affine.scale[o]!;
    for (let i = o * perOutput; i < (o + 1) * perOutput; i++) weights[i] = conv.weights[i]! * scale;
    bias[o] = conv.bias[o]! * scale + affine.offset[o]!;
  }
  return { weights, dims: conv.dims, bias, hasBias: true };
}

function biasOrZeros(bias: ArrayLike<number> | undefined, channels: number): Float64Array {
  return bias ? Float64Array.from(bias) : new Float64Array(channels);
}
