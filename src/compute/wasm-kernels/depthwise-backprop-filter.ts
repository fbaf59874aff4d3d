import type { tf } from '../tf.js';
import { convGeometry, type ConvAttrs, type ConvGeometry, type Shape4 } from './conv-geometry.js';
import { simdKernelsFor, type SimdKernels } from './simd-kernels.js';
import { asWasmBackend, heapAddress, heapF32, type TensorInfo, type WasmBackend } from './wasm-backend-access.js';

interface DepthwiseBackpropFilterAttrs extends ConvAttrs {
  filterShape: Shape4;
}

/**
 * dW[kh, kw, c, m] = sum over n, oh, ow of x[n, oh*sh + kh - padTop, ow*sw + kw - padLeft, c] * dy[n, oh, ow, c*M + m].
 * A per-channel correlation with no matrix product to hand it to. With a channel multiplier of 1 and channels
 * in multiples of 4 (all of EfficientNet) it runs as SIMD WebAssembly, one image at a time in float32 and
 * summed over the batch in float64; otherwise as a plain loop whose inner loop runs along the contiguous
 * channels of x, dy and dW at once.
 */
export function depthwiseConv2dNativeBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs as unknown as DepthwiseBackpropFilterAttrs;
  const x = args.inputs.x!;
  const dy = args.inputs.dy!;
  const g = convGeometry('DepthwiseConv2dNativeBackpropFilter', x.shape as Shape4, attrs.filterShape, attrs, true);
  const simd = g.outChannels === g.inChannels && g.inChannels % 4 === 0 ? simdKernelsFor(backend) : null;
  return simd ? filterGradientSimd(backend, simd, x, dy, g) : filterGradientLoop(backend, x, dy, g);
}

function filterGradientSimd(
  backend: WasmBackend,
  simd: SimdKernels,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const { inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight, filterWidth } = g;
  const tapValues = filterHeight * filterWidth * c;
  const out = backend.makeOutput([filterHeight, filterWidth, c, 1], 'float32');
  const scratch = backend.makeOutput([tapValues], 'float32');
  try {
    const total = new Float64Array(tapValues);
    const xImageBytes = inHeight * inWidth * c * 4;
    const dyImageBytes = outHeight * outWidth * c * 4;
    const xAddress = heapAddress(backend, x);
    const dyAddress = heapAddress(backend, dy);
    const scratchAddress = heapAddress(backend, scratch);
    for (let n = 0; n < g.batch; n++) {
      heapF32(backend, scratch).fill(0);
      simd.depthwiseFilterGradImage(
        xAddress + n * xImageBytes,
        dyAddress + n * dyImageBytes,
        scratchAddress,
        inHeight,
        inWidth,
        c,
        outHeight,
        outWidth,
        filterHeight,
        filterWidth,
        g.strideHeight,
        g.strideWidth,
        g.padTop,
        g.padLeft,
      );
      const partial = heapF32(backend, scratch);
      for (let i = 0; i < tapValues; i++) total[i] += partial[i]!;
    }
    heapF32(backend, out).set(total);
    return out;
  } finally {
    backend.disposeData(scratch.dataId);
  }
}

function filterGradientLoop(backend: WasmBackend, xInfo: TensorInfo, dyInfo: TensorInfo, g: ConvGeometry): TensorInfo {
  const { inHeight, inWidth, inChannels: cin, outHeight, outWidth, filterHeight, filterWidth } = g;
  const mult = g.outChannels / cin;
  const cout = g.outChannels;
  const out = backend.makeOutput([filterHeight, filterWidth, cin, mult], 'float32');
  const x = heapF32(backend, xInfo);
  const dy = heapF32(backend, dyInfo);
  const acc = new Float64Array(filterHeight * filterWidth * cout);
  for (let n = 0; n < g.batch; n++) {
    for (let i = 0; i < outHeight; i++) {
      for (let kh = 0; kh < filterHeight; kh++) {
        const h = i * g.strideHeight + kh - g.padTop;
        if (h < 0 || h >= inHeight) continue;
        for (let j = 0; j < outWidth; j++) {
          const dyBase = ((n * outHeight + i) * outWidth + j) * cout;
          for (let kw = 0; kw < filterWidth; kw++) {
            const w = j * g.strideWidth + kw - g.padLeft;
            if (w < 0 || w >= inWidth) continue;
            const xBase = ((n * inHeight + h) * inWidth + w) * cin;
            const accBase = (kh * filterWidth + kw) * cout;
            for (let c = 0; c < cin; c++) {
              const xv = x[xBase + c]!;
              for (let m = 0; m < mult; m++) acc[accBase + c * mult + m] += xv * dy[dyBase + c * mult + m]!;
            }
          }
        }
      }
    }
  }
  heapF32(backend, out).set(acc);
  return out;
}
