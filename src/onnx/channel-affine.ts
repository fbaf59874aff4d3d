/**
 * A per-channel affine map y = x * scale[c] + offset[c], kept in float64 so chains of them (the
 * EfficientNet stem: rescaling, normalization, rescaling_1) and BatchNormalization fold into one
 * Mul + Add or into a convolution with a single float32 rounding at the end.
 */
export interface ChannelAffine {
  scale: Float64Array;
  offset: Float64Array;
}

/** keras.backend.epsilon(): Keras' Normalization divides by max(sqrt(variance), 1e-7). */
const normalizationEpsilon = 1e-7;

export function identityAffine(channels: number): ChannelAffine {
  return { scale: new Float64Array(channels).fill(1), offset: new Float64Array(channels) };
}

/** Rescaling: x * scale + offset, with `scale` one number or one per channel. */
export function rescalingAffine(channels: number, scale: number | readonly number[], offset: number): ChannelAffine {
  const affine = identityAffine(channels);
  for (let c = 0; c < channels; c++) {
    affine.scale[c] = typeof scale === 'number' ? scale : scale[c]!;
    affine.offset[c] = offset;
  }
  return affine;
}

/** Keras Normalization (axis=-1): (x - mean) / max(sqrt(variance), 1e-7). */
export function normalizationAffine(mean: ArrayLike<number>, variance: ArrayLike<number>): ChannelAffine {
  const channels = mean.length;
  const affine = identityAffine(channels);
  for (let c = 0; c < channels; c++) {
    const inverse = 1 / Math.max(Math.sqrt(variance[c]!), normalizationEpsilon);
    affine.scale[c] = inverse;
    affine.offset[c] = -mean[c]! * inverse;
  }
  return affine;
}

export interface BatchNormStatistics {
  gamma: ArrayLike<number>;
  beta: ArrayLike<number>;
  movingMean: ArrayLike<number>;
  movingVariance: ArrayLike<number>;
  epsilon: number;
}

/** Inference-mode BatchNormalization: gamma * (x - mean) / sqrt(variance + epsilon) + beta. */
export function batchNormAffine(bn: BatchNormStatistics): ChannelAffine {
  const channels = bn.gamma.length;
  const affine = identityAffine(channels);
  for (let c = 0; c < channels; c++) {
    const scale = bn.gamma[c]! / Math.sqrt(bn.movingVariance[c]! + bn.epsilon);
    affine.scale[c] = scale;
    affine.offset[c] = bn.beta[c]! - bn.movingMean[c]! * scale;
  }
  return affine;
}

/** `second` applied after `first`: x * (s1 s2) + (o1 s2 + o2). */
export function composeAffine(first: ChannelAffine, second: ChannelAffine): ChannelAffine {
  const channels = first.scale.length;
  const result = identityAffine(channels);
  for (let c = 0; c < channels; c++) {
    result.scale[c] = first.scale[c]! * second.scale[c]!;
    result.offset[c] = first.offset[c]! * second.scale[c]! + second.offset[c]!;
  }
  return result;
}
