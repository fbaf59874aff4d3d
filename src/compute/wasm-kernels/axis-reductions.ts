import { tf } from '../tf.js';
import { simdKernelsFor, type SimdKernels } from './simd-kernels.js';
import { asWasmBackend, heapAddress, heapF32, type TensorInfo, type WasmBackend } from './wasm-backend-access.js';

/** Rows summed in float32 before the partial sum joins the float64 total. */
const rowsPerChunk = 256;

/**
 * Sum and Mean over a block of axes that leaves the last axis alone — BatchNormalization's per-channel
 * statistics and gradients over [0, 1, 2] of NHWC, and squeeze-excitation's pooling over [1, 2]. The wasm
 * kernels transpose the reduced axes innermost first, which is most of their cost; this sums whole rows of
 * channels instead (SIMD when the kept inner size is a multiple of 4). Every other case goes to the original.
 */
export function makeAxisReductionWasm(kind: 'Sum' | 'Mean') {
  return (original: tf.KernelFunc) =>
    function axisReductionWasm(args: {
      inputs: tf.NamedTensorInfoMap;
      backend: unknown;
      attrs?: tf.NamedAttrMap;
    }): TensorInfo | TensorInfo[] {
      const x = args.inputs.x!;
      const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
      const rank = x.shape.length;
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
      const first = axes[0];
      const last = axes[axes.length - 1];
      if (
        x.dtype !== 'float32' ||
        first === undefined ||
        last === undefined ||
        last - first + 1 !== axes.length ||
        last === rank - 1 ||
        tf.util.sizeFromShape(x.shape) === 0
      ) {
        return original(args as Parameters<tf.KernelFunc>[0]);
      }
      const backend = asWasmBackend(args.backend);
      const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
      const rows = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
      const inner = tf.util.sizeFromShape(x.shape.slice(last + 1));
      const outShape = keepDims
        ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
        : [...x.shape.slice(0, first), ...x.shape.slice(last + 1)];
      const out = backend.makeOutput(outShape, 'float32');
      const scale = kind === 'Mean' ? 1 / rows : 1;
      const simd = inner % 4 === 0 ? simdKernelsFor(backend) : null;
      if (simd) sumRowsSimd(backend, simd, x, out, outer, rows, inner, scale);
      else sumRowsLoop(backend, x, out, outer, rows, inner, scale);
      return out;
    };
}

function sumRowsSimd(
  backend: WasmBackend,
  simd: SimdKernels,
  x: TensorInfo,
  out: TensorInfo,
  outer: number,
  rows: number,
  inner: number,
  scale: number,
): void {
  const scratch = backend.makeOutput([inner], 'float32');
  try {
    const total = new Float64Array(inner);
    const xAddress = heapAddress(backend, x);
    const scratchAddress = heapAddress(backend, scratch);
    const result = new Float32Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      total.fill(0);
      for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
        heapF32(backend, scratch).fill(0);
        const rowAddress = xAddress + (o * rows + r0) * inner * 4;
        simd.columnSums(rowAddress, scratchAddress, Math.min(rowsPerChunk, rows - r0), inner * 4);
        const partial = heapF32(backend, scratch);
        for (let c = 0; c < inner; c++) total[c] += partial[c]!;
      }
      for (let c = 0; c < inner; c++) result[o * inner + c] = total[c]! * scale;
    }
    heapF32(backend, out).set(result);
  } finally {
    backend.disposeData(scratch.dataId);
  }
}

function sumRowsLoop(
  backend: WasmBackend,
  xInfo: TensorInfo,
  out: TensorInfo,
  outer: number,
  rows: number,
  inner: number,
  scale: number,
): void {
  const x = heapF32(backend, xInfo);
  const result = heapF32(backend, out);
  const total = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    total.fill(0);
    for (let r = 0; r < rows; r++) {
      const base = (o * rows + r) * inner;
      for (let c = 0; c < inner; c++) total[c] += x[base + c]!;
    }
    for (let c = 0; c < inner; c++) result[o * inner + c] = total[c]! * scale;
  }
}
