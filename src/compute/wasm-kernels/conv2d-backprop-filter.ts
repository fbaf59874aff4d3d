import type { tf } from '../tf.js';
import { convGeometry, isPointwise, type ConvAttrs, type ConvGeometry, type Shape4 } from './conv-geometry.js';
import { matMul, transpose2d } from './matrix-ops.js';
import {
  asWasmBackend,
  heapF32,
  Intermediates,
  runWasmKernel,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend-access.js';

interface Conv2DBackpropFilterAttrs extends ConvAttrs {
  dataFormat: 'NHWC' | 'NCHW';
  filterShape: Shape4;
}

/**
 * dW = sum over pixels of x-patch (outer) dy, as one XNNPACK matrix product:
 * - 1x1 stride 1 (every expand/project/SE conv of EfficientNet): x [M, Cin] transposed times dy [M, Cout],
 *   or dy transposed times x when that is cheaper (see transposeDyIsCheaper);
 * - anything else: an im2col of x written transposed, [KH*KW*Cin, M], times dy [M, Cout], which is already
 *   laid out as the [KH, KW, Cin, Cout] filter.
 */
export function conv2DBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  const temps = new Intermediates(backend);
  try {
    let x = args.inputs.x!;
    let dy = args.inputs.dy!;
    if (attrs.dataFormat === 'NCHW') {
      x = temps.keep(runWasmKernel(backend, 'Transpose', { x }, { perm: [0, 2, 3, 1] }));
      dy = temps.keep(runWasmKernel(backend, 'Transpose', { x: dy }, { perm: [0, 2, 3, 1] }));
    }
    const g = convGeometry('Conv2DBackpropFilter', x.shape as Shape4, attrs.filterShape, attrs, false);
    return filterGradient(backend, temps, x, dy, g);
  } finally {
    temps.disposeAll();
  }
}

function filterGradient(
  backend: WasmBackend,
  temps: Intermediates,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const pixels = g.batch * g.outHeight * g.outWidth;
  const filterShape = [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels];
  let dw: TensorInfo;
  if (isPointwise(g) && transposeDyIsCheaper(pixels, g.inChannels, g.outChannels)) {
    // dW^T = dy^T x, then flip the small [Cout, Cin] result.
    const dyT = temps.keep(transpose2d(backend, dy, pixels, g.outChannels));
    const dwT = temps.keep(matMul(backend, dyT, x, g.outChannels, pixels, g.inChannels));
    dw = transpose2d(backend, dwT, g.outChannels, g.inChannels);
  } else {
    const rows = g.filterHeight * g.filterWidth * g.inChannels;
    const patchesT = temps.keep(
      isPointwise(g) ? transpose2d(backend, x, pixels, g.inChannels) : im2colT(backend, x, g),
    );
    dw = matMul(backend, patchesT, dy, rows, pixels, g.outChannels);
  }
  return { dataId: dw.dataId, shape: filterShape, dtype: dw.dtype };
}

/**
 * Which operand of a 1x1 filter gradient to transpose. XNNPACK repacks the right-hand matrix [pixels, N] on
 * every call, at about twice the cost per element of our transpose, so the cheaper plan usually makes N the
 * narrower channel count; flipping the [Cout, Cin] result back also counts when there are few pixels.
 */
function transposeDyIsCheaper(pixels: number, cin: number, cout: number): boolean {
  const transposeX = pixels * (cin + 2 * cout);
  const transposeDy = pixels * (cout + 2 * cin) + cin * cout;
  return transposeDy < transposeX;
}

/**
 * patchesT[(kh*KW + kw)*Cin + c][pixel] = x[n, oh*sh + kh - padTop, ow*sw + kw - padLeft, c], zero outside x.
 * Written transposed so the matrix product needs no further transpose.
 */
function im2colT(backend: WasmBackend, x: TensorInfo, g: ConvGeometry): TensorInfo {
  const { batch, inHeight, inWidth, inChannels: cin, outHeight, outWidth, filterHeight, filterWidth } = g;
  const pixels = batch * outHeight * outWidth;
  const out = backend.makeOutput([filterHeight * filterWidth * cin, pixels], 'float32');
  const src = heapF32(backend, x);
  const dst = heapF32(backend, out);
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      const rowBase = (kh * filterWidth + kw) * cin * pixels;
      let pixel = 0;
      for (let n = 0; n < batch; n++) {
        for (let oh = 0; oh < outHeight; oh++) {
          const ih = oh * g.strideHeight + kh - g.padTop;
          const rowInside = ih >= 0 && ih < inHeight;
          for (let ow = 0; ow < outWidth; ow++, pixel++) {
            const iw = ow * g.strideWidth + kw - g.padLeft;
            if (rowInside && iw >= 0 && iw < inWidth) {
              const s = ((n * inHeight + ih) * inWidth + iw) * cin;
              for (let c = 0; c < cin; c++) dst[rowBase + c * pixels + pixel] = src[s + c]!;
            } else {
              for (let c = 0; c < cin; c++) dst[rowBase + c * pixels + pixel] = 0;
            }
          }
        }
      }
    }
  }
  return out;
}
