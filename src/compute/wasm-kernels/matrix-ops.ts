import {
  aliasOf,
  heapF32,
  releaseAlias,
  reshapeInfo,
  runWasmKernel,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend-access.js';

/**
 * out[m, n] = a[m, k] · b[k, n] on XNNPACK. The wasm BatchMatMul reaches XNNPACK only for a batch of one and
 * no transpose flags; with either flag set it takes a naive loop about 10x slower, so callers transpose first.
 * XNNPACK keeps an operator holding a packed copy of `b` under b's tensor id until that id is disposed, and
 * would reuse it for any later product with the same id. So `b` goes in under a temporary alias id, released
 * here, which frees the packed copy at once (activations would otherwise keep one each through the whole
 * backward pass) and keeps the cache from ever serving a stale operator.
 */
export function matMul(
  backend: WasmBackend,
  a: TensorInfo,
  b: TensorInfo,
  m: number,
  k: number,
  n: number,
): TensorInfo {
  const a3 = reshapeInfo(backend, a, [1, m, k]);
  const b3 = aliasOf(backend, b, [1, k, n]);
  try {
    const out = runWasmKernel(backend, 'BatchMatMul', { a: a3, b: b3 }, { transposeA: false, transposeB: false });
    return { dataId: out.dataId, shape: [m, n], dtype: out.dtype };
  } finally {
    backend.disposeData(a3.dataId);
    releaseAlias(backend, b3);
  }
}

const transposeTile = 32;

/**
 * [rows, cols] -> [cols, rows] in tiles so both sides stay in cache. About 4x faster than the wasm Transpose
 * kernel on the tall, narrow activations (e.g. 18432 x 32) that conv gradients transpose.
 */
export function transpose2d(backend: WasmBackend, src: TensorInfo, rows: number, cols: number): TensorInfo {
  const out = backend.makeOutput([cols, rows], 'float32');
  const s = heapF32(backend, src);
  const d = heapF32(backend, out);
  for (let r0 = 0; r0 < rows; r0 += transposeTile) {
    const r1 = Math.min(r0 + transposeTile, rows);
    for (let c0 = 0; c0 < cols; c0 += transposeTile) {
      const c1 = Math.min(c0 + transposeTile, cols);
      for (let c = c0; c < c1; c++) {
        const dRow = c * rows;
        for (let r = r0; r < r1; r++) d[dRow + r] = s[r * cols + c]!;
      }
    }
  }
  return out;
}
