import type { tf } from '../tf.js';
import { convGeometry, type ConvAttrs, type ConvGeometry, type Shape4 } from './conv-geometry.js';
import { simdKernelsFor, type SimdKernels } from './simd-kernels.js';
import {
  asWasmBackend,
  heapAddress,
  heapF32,
  Intermediates,
  runWasmKernel,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend-access.js';

interface DepthwiseBackpropInputAttrs extends ConvAttrs {
  inputShape: Shape4;
}

/**
 * dx of a depthwise convolution, three ways:
 * - channel multiplier 1 and channels in multiples of 4 (all of EfficientNet): SIMD WebAssembly scattering
 *   each dy pixel back through the filter taps, one image at a time;
 * - other multiplier-1 cases: the "full" depthwise correlation of dy (zeros inserted between rows and columns
 *   when strided) with the spatially flipped filter, on XNNPACK through the wasm DepthwiseConv2dNative kernel;
 * - a multiplier above 1, or padding larger than the filter: a plain loop.
 */
export function depthwiseConv2dNativeBackpropInputWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs as unknown as DepthwiseBackpropInputAttrs;
  const dy = args.inputs.dy!;
  const filter = args.inputs.filter!;
  const g = convGeometry('DepthwiseConv2dNativeBackpropInput', attrs.inputShape, filter.shape as Shape4, attrs, true);
  const simd = g.outChannels === g.inChannels && g.inChannels % 4 === 0 ? simdKernelsFor(backend) : null;
  if (simd) return inputGradientSimd(backend, simd, dy, filter, g);

  const dilatedHeight = (g.outHeight - 1) * g.strideHeight + 1;
  const dilatedWidth = (g.outWidth - 1) * g.strideWidth + 1;
  const top = g.filterHeight - 1 - g.padTop;
  const left = g.filterWidth - 1 - g.padLeft;
  const bottom = g.inHeight + g.filterHeight - 1 - dilatedHeight - top;
  const right = g.inWidth + g.filterWidth - 1 - dilatedWidth - left;
  if (g.outChannels !== g.inChannels || Math.min(top, left, bottom, right) < 0) {
    return depthwiseInputGradientLoop(backend, dy, filter, g);
  }

  const temps = new Intermediates(backend);
  try {
    const flipped = temps.keep(runWasmKernel(backend, 'Reverse', { x: filter }, { dims: [0, 1] }));
    const strided = g.strideHeight > 1 || g.strideWidth > 1;
    const source = strided ? temps.keep(insertStrideZeros(backend, dy, g, dilatedHeight, dilatedWidth)) : dy;
    return runWasmKernel(
      backend,
      'DepthwiseConv2dNative',
      { x: source, filter: flipped },
      {
        strides: [1, 1],
        dilations: [1, 1],
        pad: [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ],
        dataFormat: 'NHWC',
      },
    );
  } finally {
    temps.disposeAll();
  }
}

function inputGradientSimd(
  backend: WasmBackend,
  simd: SimdKernels,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const { inHeight, inWidth, inChannels: c, outHeight, outWidth } = g;
  const dx = backend.makeOutput([g.batch, inHeight, inWidth, c], 'float32');
  heapF32(backend, dx).fill(0);
  const dxImageBytes = inHeight * inWidth * c * 4;
  const dyImageBytes = outHeight * outWidth * c * 4;
  const dxAddress = heapAddress(backend, dx);
  const dyAddress = heapAddress(backend, dy);
  const filterAddress = heapAddress(backend, filter);
  for (let n = 0; n < g.batch; n++) {
    simd.depthwiseInputGradImage(
      dxAddress + n * dxImageBytes,
      dyAddress + n * dyImageBytes,
      filterAddress,
      inHeight,
      inWidth,
      c,
      outHeight,
      outWidth,
      g.filterHeight,
      g.filterWidth,
      g.strideHeight,
      g.strideWidth,
      g.padTop,
      g.padLeft,
    );
  }
  return dx;
}

/** dy [N, OH, OW, C] -> [N, (OH-1)*sh+1, (OW-1)*sw+1, C] with dy's pixels at multiples of the stride. */
function insertStrideZeros(
  backend: WasmBackend,
  dy: TensorInfo,
  g: ConvGeometry,
  dilatedHeight: number,
  dilatedWidth: number,
): TensorInfo {
  const c = g.outChannels;
  const out = backend.makeOutput([g.batch, dilatedHeight, dilatedWidth, c], 'float32');
  const src = heapF32(backend, dy);
  const dst = heapF32(backend, out);
  dst.fill(0);
  for (let n = 0; n < g.batch; n++) {
    for (let i = 0; i < g.outHeight; i++) {
      const dstRow = (n * dilatedHeight + i * g.strideHeight) * dilatedWidth;
      const srcRow = (n * g.outHeight + i) * g.outWidth;
      for (let j = 0; j < g.outWidth; j++) {
        const s = (srcRow + j) * c;
        dst.set(src.subarray(s, s + c), (dstRow + j * g.strideWidth) * c);
      }
    }
  }
  return out;
}

/** Any multiplier and padding: scatter each dy pixel back through the filter taps. */
function depthwiseInputGradientLoop(
  backend: WasmBackend,
  dyInfo: TensorInfo,
  filterInfo: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const { inHeight, inWidth, inChannels: cin, outHeight, outWidth, filterHeight, filterWidth } = g;
  const mult = g.outChannels / cin;
  const out = backend.makeOutput([g.batch, inHeight, inWidth, cin], 'float32');
  const dy = heapF32(backend, dyInfo);
  const w = heapF32(backend, filterInfo);
  const dx = heapF32(backend, out);
  dx.fill(0);
  for (let n = 0; n < g.batch; n++) {
    for (let i = 0; i < outHeight; i++) {
      for (let kh = 0; kh < filterHeight; kh++) {
        const h = i * g.strideHeight + kh - g.padTop;
        if (h < 0 || h >= inHeight) continue;
        for (let j = 0; j < outWidth; j++) {
          const dyBase = ((n * outHeight + i) * outWidth + j) * cin * mult;
          for (let kw = 0; kw < filterWidth; kw++) {
            const x = j * g.strideWidth + kw - g.padLeft;
            if (x < 0 || x >= inWidth) continue;
            const dxBase = ((n * inHeight + h) * inWidth + x) * cin;
            const wBase = (kh * filterWidth + kw) * cin * mult;
            for (let c = 0; c < cin; c++) {
              let sum = 0;
              for (let m = 0; m < mult; m++) sum += dy[dyBase + c * mult + m]! * w[wBase + c * mult + m]!;
              dx[dxBase + c] += sum;
            }
          }
        }
      }
    }
  }
  return out;
}
