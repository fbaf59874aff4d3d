import { tf } from '../tf.js';
import { simdKernelsFor, type SimdKernels } from './simd-kernels.js';
import { asWasmBackend, heapAddress, heapF32, type TensorInfo, type WasmBackend } from './wasm-backend-access.js';
import { WasmKernelUnsupportedError } from './wasm-kernel-errors.js';

/**
 * BatchNormalization with batch statistics (training mode) as one kernel each way. tfjs builds it from
 * tf.moments and tf.batchNorm: about 8 kernels forward and 20 backward (the gradients of the normalisation,
 * of the mean and of the variance, each with broadcasts, tiles and sums), ~1,300 calls per EfficientNet-B0
 * step. Forward: two SIMD column-sum passes (mean, then squared deviations) and the affine map; backward:
 * one pass for the two column sums and one for dx:
 *   dbeta = sum(dy), dgamma = sum(dy * (x - mean)) * r,  r = 1 / sqrt(var + eps),
 *   dx = gamma * r * (dy - dbeta / N - (x - mean) * r^2 * sum(dy * (x - mean)) / N)   (N rows).
 * x is [..., C] float32 with C a multiple of 4; gamma and beta are [C]. The variance is the biased one, as
 * tf.moments computes it.
 */

export const batchNormTrainKernelName = 'EffnetBatchNormTrain';
export const batchNormTrainGradKernelName = 'EffnetBatchNormTrainGrad';

/** Whether the fused kernels take an input of this shape and dtype. */
export function batchNormTrainSupports(x: { shape: readonly number[]; dtype: string }): boolean {
  const channels = x.shape[x.shape.length - 1] ?? 0;
  return x.dtype === 'float32' && x.shape.length >= 2 && channels > 0 && channels % 4 === 0;
}

function prepare(kernel: string, backendArg: unknown, x: TensorInfo, params: TensorInfo[]) {
  const backend = asWasmBackend(backendArg);
  const simd = simdKernelsFor(backend);
  const channels = x.shape[x.shape.length - 1] ?? 0;
  if (simd == null) throw new WasmKernelUnsupportedError(kernel, 'SIMD unavailable');
  if (!batchNormTrainSupports(x)) throw new WasmKernelUnsupportedError(kernel, `input ${x.dtype} ${x.shape}`);
  for (const p of params) {
    if (p.dtype !== 'float32' || tf.util.sizeFromShape(p.shape) !== channels) {
      throw new WasmKernelUnsupportedError(kernel, `parameter ${p.dtype} ${p.shape}, expected [${channels}]`);
    }
  }
  return { backend, simd, channels, rows: tf.util.sizeFromShape(x.shape) / channels };
}

/** Inputs x, gamma, beta; attr epsilon. Outputs y, mean, variance (both [C]). */
export function batchNormTrainWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfo[] {
  const { x, gamma, beta } = args.inputs as Record<string, TensorInfo>;
  const epsilon = (args.attrs as { epsilon: number }).epsilon;
  const { backend, simd, channels, rows } = prepare(batchNormTrainKernelName, args.backend, x!, [gamma!, beta!]);
  const y = backend.makeOutput([...x!.shape], 'float32');
  const mean = backend.makeOutput([channels], 'float32');
  const variance = backend.makeOutput([channels], 'float32');
  // sums, then the affine map's scale
  const scratch = backend.makeOutput([2 * channels], 'float32');
  try {
    const bytes = channels * 4;
    const [xAt, meanAt, scratchAt] = [
      heapAddress(backend, x!),
      heapAddress(backend, mean),
      heapAddress(backend, scratch),
    ];
    heapF32(backend, scratch).fill(0);
    simd.columnSums(xAt, scratchAt, rows, bytes);
    const m = heapF32(backend, mean);
    const sums = heapF32(backend, scratch);
    for (let c = 0; c < channels; c++) m[c] = sums[c]! / rows;
    sums.fill(0, 0, channels);
    simd.columnSquaredDeviationSums(xAt, meanAt, scratchAt, rows, bytes);
    const v = heapF32(backend, variance);
    const g = heapF32(backend, gamma!);
    for (let c = 0; c < channels; c++) {
      v[c] = sums[c]! / rows;
      sums[channels + c] = g[c]! / Math.sqrt(v[c]! + epsilon);
    }
    simd.channelAffine(
      xAt,
      heapAddress(backend, y),
      rows,
      bytes,
      meanAt,
      scratchAt + bytes,
      heapAddress(backend, beta!),
    );
    return [y, mean, variance];
  } finally {
    backend.disposeData(scratch.dataId);
  }
}

/** Inputs dy, x, gamma, mean, variance (the forward's outputs); attr epsilon. Outputs dx, dgamma, dbeta. */
export function batchNormTrainGradWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfo[] {
  const { dy, x, gamma, mean, variance } = args.inputs as Record<string, TensorInfo>;
  const epsilon = (args.attrs as { epsilon: number }).epsilon;
  const { backend, simd, channels, rows } = prepare(batchNormTrainGradKernelName, args.backend, x!, [
    gamma!,
    mean!,
    variance!,
  ]);
  const dx = backend.makeOutput([...x!.shape], 'float32');
  const dgamma = backend.makeOutput([channels], 'float32');
  const dbeta = backend.makeOutput([channels], 'float32');
  // mean, a, b, offset for batchNormInputGrad (the sums go to dbeta and dgamma first)
  const vectors = backend.makeOutput([4 * channels], 'float32');
  try {
    gradients(backend, simd, { dy: dy!, x: x!, gamma: gamma!, mean: mean!, variance: variance! }, epsilon, {
      dx,
      dgamma,
      dbeta,
      vectors,
      channels,
      rows,
    });
    return [dx, dgamma, dbeta];
  } finally {
    backend.disposeData(vectors.dataId);
  }
}

function gradients(
  backend: WasmBackend,
  simd: SimdKernels,
  inputs: Record<'dy' | 'x' | 'gamma' | 'mean' | 'variance', TensorInfo>,
  epsilon: number,
  out: { dx: TensorInfo; dgamma: TensorInfo; dbeta: TensorInfo; vectors: TensorInfo; channels: number; rows: number },
): void {
  const { channels, rows } = out;
  const bytes = channels * 4;
  const [dyAt, xAt] = [heapAddress(backend, inputs.dy), heapAddress(backend, inputs.x)];
  const [dgammaAt, dbetaAt] = [heapAddress(backend, out.dgamma), heapAddress(backend, out.dbeta)];
  heapF32(backend, out.dgamma).fill(0);
  heapF32(backend, out.dbeta).fill(0);
  simd.batchNormGradSums(dyAt, xAt, heapAddress(backend, inputs.mean), dbetaAt, dgammaAt, rows, bytes);

  const [m, v, g] = [inputs.mean, inputs.variance, inputs.gamma].map((t) => heapF32(backend, t)) as Float32Array[];
  const sumDy = heapF32(backend, out.dbeta);
  const sumDyXc = heapF32(backend, out.dgamma);
  const vectors = heapF32(backend, out.vectors);
  for (let c = 0; c < channels; c++) {
    const r = 1 / Math.sqrt(v![c]! + epsilon);
    const a = g![c]! * r;
    vectors[c] = m![c]!;
    vectors[channels + c] = a;
    vectors[2 * channels + c] = (-a * r * r * sumDyXc[c]!) / rows;
    vectors[3 * channels + c] = (-a * sumDy[c]!) / rows;
    sumDyXc[c] = sumDyXc[c]! * r; // dgamma; dbeta is sumDy as it stands
  }
  simd.batchNormInputGrad(dyAt, xAt, heapAddress(backend, out.dx), rows, bytes, heapAddress(backend, out.vectors));
}
