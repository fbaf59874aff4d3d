/** One convolution of EfficientNet-B0 as the Keras model builds it (NHWC, batch-free shapes). */
export interface ConvLayer {
  name: string;
  kind: 'conv' | 'depthwise';
  /** [height, width, channels] of the layer input, after any ZeroPadding2D. */
  input: [number, number, number];
  kernel: number;
  stride: number;
  pad: 'same' | 'valid';
  outChannels: number;
}

// (expand ratio, kernel, stride, input filters, output filters, repeats) of B0's seven stages.
const b0Blocks: [number, number, number, number, number, number][] = [
  [1, 3, 1, 32, 16, 1],
  [6, 3, 2, 16, 24, 2],
  [6, 5, 2, 24, 40, 2],
  [6, 3, 2, 40, 80, 3],
  [6, 5, 1, 80, 112, 3],
  [6, 5, 2, 112, 192, 4],
  [6, 3, 1, 192, 320, 1],
];

/** Keras' correct_pad: strided convs pad (k//2 - 1 + odd, k//2) and use 'valid'. */
function paddedSize(size: number, kernel: number): number {
  const adjust = size % 2 === 0 ? 1 : 0;
  const before = Math.floor(kernel / 2) - adjust;
  return size + before + Math.floor(kernel / 2);
}

export function efficientNetB0ConvLayers(imageSize: number): ConvLayer[] {
  const layers: ConvLayer[] = [];
  let size = imageSize;
  layers.push({
    name: 'stem',
    kind: 'conv',
    input: [paddedSize(size, 3), paddedSize(size, 3), 3],
    kernel: 3,
    stride: 2,
    pad: 'valid',
    outChannels: 32,
  });
  size = Math.ceil(size / 2);
  let blockIndex = 0;
  for (const [expand, kernel, stride, filtersIn, filtersOut, repeats] of b0Blocks) {
    blockIndex++;
    for (let r = 0; r < repeats; r++) {
      const name = `block${blockIndex}${String.fromCharCode(97 + r)}`;
      const cin = r === 0 ? filtersIn : filtersOut;
      const s = r === 0 ? stride : 1;
      const expanded = cin * expand;
      if (expand !== 1) {
        layers.push(pointwise(`${name}_expand`, size, cin, expanded));
      }
      const strided = s === 2;
      const dwSize = strided ? paddedSize(size, kernel) : size;
      layers.push({
        name: `${name}_dwconv`,
        kind: 'depthwise',
        input: [dwSize, dwSize, expanded],
        kernel,
        stride: s,
        pad: strided ? 'valid' : 'same',
        outChannels: expanded,
      });
      if (strided) size = Math.ceil(size / 2);
      const se = Math.max(1, Math.floor(cin * 0.25));
      layers.push(pointwise(`${name}_se_reduce`, 1, expanded, se));
      layers.push(pointwise(`${name}_se_expand`, 1, se, expanded));
      layers.push(pointwise(`${name}_project`, size, expanded, filtersOut));
    }
  }
  layers.push(pointwise('top', size, 320, 1280));
  return layers;
}

function pointwise(name: string, size: number, cin: number, cout: number): ConvLayer {
  return { name, kind: 'conv', input: [size, size, cin], kernel: 1, stride: 1, pad: 'same', outChannels: cout };
}
