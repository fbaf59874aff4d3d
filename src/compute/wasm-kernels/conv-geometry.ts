import { tf } from '../tf.js';
import { WasmKernelUnsupportedError } from './wasm-kernel-errors.js';

export type ConvPad =
  'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
export type Shape4 = [number, number, number, number];

/** Sizes of one NHWC 2-D convolution, as tfjs computes them (padding resolved to explicit numbers). */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
  padBottom: number;
  padRight: number;
}

export interface ConvAttrs {
  strides: [number, number] | number;
  pad: ConvPad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: [number, number] | number;
}

/**
 * Geometry of a channels-last convolution (depthwise when `depthwise`), from tfjs' own computeConv2DInfo so
 * 'same', 'valid', numeric and explicit padding resolve exactly as on the cpu backend.
 */
export function convGeometry(
  kernelName: string,
  inShape: Shape4,
  filterShape: Shape4,
  attrs: ConvAttrs,
  depthwise: boolean,
): ConvGeometry {
  const dilations = attrs.dilations ?? 1;
  if (!tf.backend_util.tupleValuesAreOne(dilations)) {
    // tfjs' own gradients refuse dilated convolutions too, so nothing reaches here with them.
    throw new WasmKernelUnsupportedError(kernelName, `dilations ${JSON.stringify(dilations)} (only 1 is supported)`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    inShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    padBottom: info.padInfo.bottom,
    padRight: info.padInfo.right,
  };
}

/** A 1x1, stride-1, unpadded convolution: a plain matrix product over the N*H*W pixels. */
export function isPointwise(g: ConvGeometry): boolean {
  return (
    g.filterHeight === 1 &&
    g.filterWidth === 1 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.padTop === 0 &&
    g.padLeft === 0 &&
    g.outHeight === g.inHeight &&
    g.outWidth === g.inWidth
  );
}
