import type { tf } from '../tf.js';
import { convGeometry, isPointwise, type ConvAttrs, type ConvGeometry, type Shape4 } from './conv-geometry.js';
import { matMul, transpose2d } from './matrix-ops.js';
import { asWasmBackend, heapF32, Intermediates, type TensorInfo, type WasmBackend } from './wasm-backend-access.js';

interface Conv2DBackpropInputAttrs extends ConvAttrs {
  dataFormat: 'NHWC' | 'NCHW';
  inputShape: Shape4;
}

/** Largest im2col matrix (floats) the k x k path builds; beyond it the original kernel runs. */
const maxColumnsSize = 1 << 26;

/**
 * tfjs-backend-wasm's own Conv2DBackpropInput is a scalar C++ loop (~1.7 GMAC/s here). Instead:
 * - 1x1 stride 1 (every expand/project/SE conv of EfficientNet): dx [M, Cin] = dy [M, Cout] times
 *   W^T [Cout, Cin] on XNNPACK, about 10x faster;
 * - other NHWC convolutions (the stem): columns [M, KH*KW*Cin] = dy times W^T on XNNPACK, then col2im adds
 *   each column block back onto the input pixel it came from.
 * NCHW data, or an im2col matrix too large, goes to the original kernel.
 */
export function makeConv2DBackpropInputWasm(original: tf.KernelFunc) {
  return function conv2DBackpropInputWasm(args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  }): TensorInfo | TensorInfo[] {
    const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs;
    const filter = args.inputs.filter!;
    const dy = args.inputs.dy!;
    if (attrs.dataFormat === 'NCHW') return original(args as Parameters<tf.KernelFunc>[0]);
    const g = convGeometry('Conv2DBackpropInput', attrs.inputShape, filter.shape as Shape4, attrs, false);
    const pixels = g.batch * g.outHeight * g.outWidth;
    const taps = g.filterHeight * g.filterWidth * g.inChannels;
    if (!isPointwise(g) && pixels * taps > maxColumnsSize) return original(args as Parameters<tf.KernelFunc>[0]);

    const backend = asWasmBackend(args.backend);
    const temps = new Intermediates(backend);
    try {
      // W as [KH*KW*Cin, Cout], transposed so XNNPACK's matrix product takes it without flags.
      const filterT = temps.keep(transpose2d(backend, filter, taps, g.outChannels));
      const columns = matMul(backend, dy, filterT, pixels, g.outChannels, taps);
      if (isPointwise(g)) return { dataId: columns.dataId, shape: [...attrs.inputShape], dtype: columns.dtype };
      temps.keep(columns);
      return col2im(backend, columns, g);
    } finally {
      temps.disposeAll();
    }
  };
}

/** dx[n, oh*sh + kh - padTop, ow*sw + kw - padLeft, c] += columns[(n, oh, ow), (kh, kw, c)]. */
function col2im(backend: WasmBackend, columnsInfo: TensorInfo, g: ConvGeometry): TensorInfo {
  const { batch, inHeight, inWidth, inChannels: cin, outHeight, outWidth, filterHeight, filterWidth } = g;
  const out = backend.makeOutput([batch, inHeight, inWidth, cin], 'float32');
  const columns = heapF32(backend, columnsInfo);
  const dx = heapF32(backend, out);
  dx.fill(0);
  const taps = filterHeight * filterWidth * cin;
  let row = 0;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++, row += taps) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const h = oh * g.strideHeight + kh - g.padTop;
          if (h < 0 || h >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const w = ow * g.strideWidth + kw - g.padLeft;
            if (w < 0 || w >= inWidth) continue;
            const target = ((n * inHeight + h) * inWidth + w) * cin;
            const source = row + (kh * filterWidth + kw) * cin;
            for (let c = 0; c < cin; c++) dx[target + c] += columns[source + c]!;
          }
        }
      }
    }
  }
  return out;
}
