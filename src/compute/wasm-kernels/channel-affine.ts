import { tf } from '../tf.js';
import { simdKernelsFor, type SimdKernels } from './simd-kernels.js';
import { asWasmBackend, heapAddress, heapF32, type TensorInfo, type WasmBackend } from './wasm-backend-access.js';

/**
 * Per-channel affine maps over NHWC activations, out = (x - shift[c]) * scale[c] + offset[c], in SIMD:
 * - FusedBatchNorm (shift = mean, scale = gamma / sqrt(var + eps), offset = beta);
 * - Multiply, Add and Sub of a full tensor and a channel vector ([C] or [1, ..., 1, C]), which the
 *   BatchNormalization gradient is made of, or one channel vector per sample ([N, 1, ..., 1, C], the
 *   squeeze-excitation gate). tfjs-backend-wasm runs these broadcasts ~7x slower per element
 *   than same-shape ones, and its FusedBatchNorm ~5x.
 * Other shapes and dtypes, tensors smaller than `minSize`, and channel counts that are not multiples of 4 go
 * to the original kernels (FusedBatchNorm excepted: it repeats its parameters up to a multiple of 4).
 */

const minSize = 4096;

type ChannelBinary = 'Multiply' | 'Add' | 'Sub';

export function makeChannelBroadcastWasm(kind: ChannelBinary) {
  return (original: tf.KernelFunc) =>
    function channelBroadcastWasm(args: {
      inputs: tf.NamedTensorInfoMap;
      backend: unknown;
      attrs?: tf.NamedAttrMap;
    }): TensorInfo | TensorInfo[] {
      const a = args.inputs.a!;
      const b = args.inputs.b!;
      const backend = asWasmBackend(args.backend);
      const perSampleIsA = isPerSampleChannelVectorOf(a, b);
      if (perSampleIsA || isPerSampleChannelVectorOf(b, a)) {
        const simd = simdKernelsFor(backend);
        if (simd != null)
          return perSample(backend, simd, kind, perSampleIsA ? b : a, perSampleIsA ? a : b, perSampleIsA);
      }
      const vectorIsA = isChannelVectorOf(a, b);
      const vectorIsB = !vectorIsA && isChannelVectorOf(b, a);
      const simd = vectorIsA || vectorIsB ? simdKernelsFor(backend) : null;
      if (simd == null) return original(args as Parameters<tf.KernelFunc>[0]);

      const full = vectorIsA ? b : a;
      const channels = full.shape[full.shape.length - 1]!;
      const v = Float32Array.from(heapF32(backend, vectorIsA ? a : b));
      const zeros = new Float32Array(channels);
      const ones = new Float32Array(channels).fill(1);
      if (kind === 'Multiply') return affine(backend, simd, full, zeros, v, zeros);
      if (kind === 'Add') return affine(backend, simd, full, zeros, ones, v);
      // full - v, or v - full = full * -1 + v: both exact, like a plain subtraction.
      return vectorIsB
        ? affine(backend, simd, full, v, ones, zeros)
        : affine(backend, simd, full, zeros, ones.fill(-1), v);
    };
}

/** `vector` is [C] or [1, ..., 1, C] and `full` is a larger float32 [..., C] tensor with C a multiple of 4. */
function isChannelVectorOf(vector: TensorInfo, full: TensorInfo): boolean {
  const channels = full.shape[full.shape.length - 1];
  return (
    vector.dtype === 'float32' &&
    full.dtype === 'float32' &&
    channels !== undefined &&
    channels % 4 === 0 &&
    vector.shape.length <= full.shape.length &&
    vector.shape[vector.shape.length - 1] === channels &&
    tf.util.sizeFromShape(vector.shape) === channels &&
    tf.util.sizeFromShape(full.shape) >= Math.max(minSize, 2 * channels)
  );
}

/**
 * `vector` is [N, 1, ..., 1, C] and `full` a float32 [N, ..., C] tensor with more than one element per
 * sample and channel, C a multiple of 4: one channel vector per sample (the squeeze-excitation gate).
 */
function isPerSampleChannelVectorOf(vector: TensorInfo, full: TensorInfo): boolean {
  const rank = full.shape.length;
  const channels = full.shape[rank - 1];
  return (
    vector.dtype === 'float32' &&
    full.dtype === 'float32' &&
    rank >= 3 &&
    vector.shape.length === rank &&
    channels !== undefined &&
    channels % 4 === 0 &&
    vector.shape[0] === full.shape[0] &&
    full.shape[0]! > 1 &&
    vector.shape[rank - 1] === channels &&
    vector.shape.slice(1, -1).every((d) => d === 1) &&
    tf.util.sizeFromShape(full.shape) >= Math.max(minSize, 2 * tf.util.sizeFromShape(vector.shape))
  );
}

/** full (op) vector[n] for each sample n, with the sample's channel vector read in place from the heap. */
function perSample(
  backend: WasmBackend,
  simd: SimdKernels,
  kind: ChannelBinary,
  full: TensorInfo,
  vector: TensorInfo,
  vectorFirst: boolean,
): TensorInfo {
  const samples = full.shape[0]!;
  const channels = full.shape[full.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(full.shape) / samples / channels;
  const out = backend.makeOutput([...full.shape], 'float32');
  // zeros, ones, minus ones
  const constants = backend.makeOutput([3 * channels], 'float32');
  try {
    const heap = heapF32(backend, constants);
    heap
      .fill(0, 0, channels)
      .fill(1, channels, 2 * channels)
      .fill(-1, 2 * channels);
    const bytes = channels * 4;
    const [zeros, ones, minusOnes] = [0, 1, 2].map((k) => heapAddress(backend, constants) + k * bytes);
    const [src, dst, vectors] = [heapAddress(backend, full), heapAddress(backend, out), heapAddress(backend, vector)];
    for (let n = 0; n < samples; n++) {
      const v = vectors + n * bytes;
      // (x - shift) * scale + offset
      const [shift, scale, offset] =
        kind === 'Multiply'
          ? [zeros!, v, zeros!]
          : kind === 'Add'
            ? [zeros!, ones!, v]
            : vectorFirst
              ? [zeros!, minusOnes!, v]
              : [v, ones!, zeros!];
      simd.channelAffine(src + n * rows * bytes, dst + n * rows * bytes, rows, bytes, shift, scale, offset);
    }
    return out;
  } finally {
    backend.disposeData(constants.dataId);
  }
}

export function makeFusedBatchNormWasm(original: tf.KernelFunc) {
  return function fusedBatchNormWasm(args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  }): TensorInfo | TensorInfo[] {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>;
    const epsilon = (args.attrs as { varianceEpsilon: number }).varianceEpsilon;
    const channels = x!.shape[x!.shape.length - 1] ?? 0;
    const params = [mean!, variance!, offset, scale];
    // Channel counts that are not a multiple of 4 (the 3 of an RGB input) take the parameters repeated
    // over the smallest multiple of 4 channels, when the tensor's size is a multiple of that.
    const period = channels % 4 === 0 ? channels : channels % 2 === 0 ? 2 * channels : 4 * channels;
    const usable =
      x!.dtype === 'float32' &&
      channels > 0 &&
      tf.util.sizeFromShape(x!.shape) % period === 0 &&
      tf.util.sizeFromShape(x!.shape) >= minSize &&
      params.every(
        (p) => p == null || (p.dtype === 'float32' && [1, channels].includes(tf.util.sizeFromShape(p.shape))),
      );
    const backend = asWasmBackend(args.backend);
    const simd = usable ? simdKernelsFor(backend) : null;
    if (simd == null) return original(args as Parameters<tf.KernelFunc>[0]);

    // tfjs cycles each parameter over the flat input, so a size-1 parameter applies to every channel.
    const perChannel = (p: TensorInfo | undefined, fallback: number) => {
      if (p == null) return new Float64Array(channels).fill(fallback);
      const values = heapF32(backend, p);
      return Float64Array.from({ length: channels }, (_, c) => values[values.length === 1 ? 0 : c]!);
    };
    const m = perChannel(mean, 0);
    const v = perChannel(variance, 1);
    const beta = perChannel(offset, 0);
    const gamma = perChannel(scale, 1);
    const factor = Float32Array.from(gamma, (g, c) => g / Math.sqrt(v[c]! + epsilon));
    const tiled = (values: ArrayLike<number>) => Float32Array.from({ length: period }, (_, i) => values[i % channels]!);
    // affine() treats the tensor as rows of `period` channels.
    return affine(backend, simd, x!, tiled(m), tiled(factor), tiled(beta));
  };
}

function affine(
  backend: WasmBackend,
  simd: SimdKernels,
  x: TensorInfo,
  shift: Float32Array,
  scale: Float32Array,
  offset: Float32Array,
): TensorInfo {
  const channels = shift.length;
  const out = backend.makeOutput([...x.shape], 'float32');
  const vectors = backend.makeOutput([3 * channels], 'float32');
  try {
    const heap = heapF32(backend, vectors);
    heap.set(shift, 0);
    heap.set(scale, channels);
    heap.set(offset, 2 * channels);
    const at = heapAddress(backend, vectors);
    const rows = tf.util.sizeFromShape(x.shape) / channels;
    simd.channelAffine(
      heapAddress(backend, x),
      heapAddress(backend, out),
      rows,
      channels * 4,
      at,
      at + channels * 4,
      at + channels * 8,
    );
    return out;
  } finally {
    backend.disposeData(vectors.dataId);
  }
}
