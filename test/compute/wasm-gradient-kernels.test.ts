import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../../src/compute/tf.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { assertClose, compareKernel, randomArray, sizeOf, type Shape4 } from './backend-comparison.js';

// The convolution gradient kernels run on 'wasm' and on 'cpu' (the reference) from the same plain arrays;
// results must agree to 1e-4 of the largest reference value.

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

/** Output size along one axis, from tfjs itself so every pad form resolves as the kernels see it. */
function convOutShape(inShape: Shape4, filterShape: Shape4, stride: number, pad: Pad, depthwise: boolean): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(inShape, filterShape, stride, 1, pad, undefined, depthwise);
  return info.outShape as Shape4;
}

const pads: Pad[] = [
  'same',
  'valid',
  1,
  [
    [0, 0],
    [2, 0],
    [1, 2],
    [0, 0],
  ],
];
const kernelSizes = [1, 3, 5];
const strides = [1, 2];
// [batch, height, width, inChannels, outChannels]: outChannels below and above inChannels takes both
// branches of the 1x1 filter gradient.
const convShapes: [number, number, number, number, number][] = [
  [1, 7, 6, 3, 5],
  [8, 9, 9, 6, 4],
];

function* convCases(): Generator<{ x: Shape4; f: Shape4; stride: number; pad: Pad; label: string }> {
  for (const [n, h, w, cin, cout] of convShapes) {
    for (const k of kernelSizes) {
      for (const stride of strides) {
        for (const pad of pads) {
          const x: Shape4 = [n, h, w, cin];
          const f: Shape4 = [k, k, cin, cout];
          yield { x, f, stride, pad, label: `x=${x} k=${k} s=${stride} pad=${JSON.stringify(pad)}` };
        }
      }
    }
  }
}

function* depthwiseCases(): Generator<{ x: Shape4; f: Shape4; stride: number; pad: Pad; label: string }> {
  for (const [n, h, w, c] of [
    [1, 7, 6, 3],
    [8, 9, 9, 4],
  ] as const) {
    for (const mult of [1, 2]) {
      for (const k of kernelSizes) {
        for (const stride of strides) {
          for (const pad of pads) {
            const x: Shape4 = [n, h, w, c];
            const f: Shape4 = [k, k, c, mult];
            yield { x, f, stride, pad, label: `x=${x} k=${k} mult=${mult} s=${stride} pad=${JSON.stringify(pad)}` };
          }
        }
      }
    }
  }
}

describe('wasm convolution gradient kernels agree with the cpu backend', () => {
  before(async () => {
    await useTestBackend('wasm');
  });

  test('Conv2DBackpropFilter', async () => {
    for (const { x, f, stride, pad, label } of convCases()) {
      const dy = convOutShape(x, f, stride, pad, false);
      await compareKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        { strides: stride, pad, dataFormat: 'NHWC', filterShape: f },
        label,
      );
    }
  });

  test('Conv2DBackpropFilter with NCHW data', async () => {
    const x: Shape4 = [2, 4, 7, 6];
    const f: Shape4 = [3, 3, 4, 5];
    const nhwcOut = convOutShape([2, 7, 6, 4], f, 2, 'same', false);
    const dy: Shape4 = [nhwcOut[0], nhwcOut[3], nhwcOut[1], nhwcOut[2]];
    await compareKernel(
      'Conv2DBackpropFilter',
      { x, dy },
      { strides: 2, pad: 'same', dataFormat: 'NCHW', filterShape: f },
      'NCHW',
    );
  });

  test('Conv2DBackpropInput (replaced: 1x1 as a matrix product, k x k as matrix product + col2im)', async () => {
    for (const { x, f, stride, pad, label } of convCases()) {
      const dy = convOutShape(x, f, stride, pad, false);
      await compareKernel(
        'Conv2DBackpropInput',
        { dy, filter: f },
        { strides: stride, pad, dataFormat: 'NHWC', inputShape: x },
        label,
      );
    }
  });

  test('DepthwiseConv2dNativeBackpropFilter', async () => {
    for (const { x, f, stride, pad, label } of depthwiseCases()) {
      const dy = convOutShape(x, f, stride, pad, true);
      await compareKernel(
        'DepthwiseConv2dNativeBackpropFilter',
        { x, dy },
        { strides: stride, pad, dilations: 1, filterShape: f },
        label,
      );
    }
  });

  test('DepthwiseConv2dNativeBackpropInput', async () => {
    for (const { x, f, stride, pad, label } of depthwiseCases()) {
      const dy = convOutShape(x, f, stride, pad, true);
      await compareKernel(
        'DepthwiseConv2dNativeBackpropInput',
        { dy, filter: f },
        { strides: stride, pad, dilations: 1, inputShape: x },
        label,
      );
    }
  });

  test('the kernels free every intermediate and leave their inputs intact', async () => {
    assert.ok(await tf.setBackend('wasm'));
    const backend = tf.backend();
    const x = tf.tensor4d(randomArray(2 * 9 * 9 * 8, 5), [2, 9, 9, 8]);
    const pointwise = tf.tensor4d(randomArray(8 * 4, 6), [1, 1, 8, 4]);
    const spatial = tf.tensor4d(randomArray(3 * 3 * 8 * 4, 7), [3, 3, 8, 4]);
    const depthwise = tf.tensor4d(randomArray(3 * 3 * 8, 8), [3, 3, 8, 1]);
    const before = { tensors: tf.memory().numTensors, dataIds: backend.numDataIds() };
    const xBefore = Array.from(x.dataSync());
    for (let i = 0; i < 2; i++) {
      const grads = tf.grads((input: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        let h = tf.conv2d(input as tf.Tensor4D, a as tf.Tensor4D, 1, 'same');
        h = tf.add(h, tf.conv2d(input as tf.Tensor4D, b as tf.Tensor4D, 2, 'same').mean()) as tf.Tensor4D;
        return tf.sum(tf.depthwiseConv2d(input as tf.Tensor4D, c as tf.Tensor4D, 2, 'same')).add(tf.sum(h));
      })([x, pointwise, spatial, depthwise]);
      tf.dispose(grads);
    }
    assert.equal(tf.memory().numTensors, before.tensors, 'tensors');
    assert.equal(backend.numDataIds(), before.dataIds, 'wasm data ids');
    assert.deepEqual(Array.from(x.dataSync()), xBefore);
    tf.dispose([x, pointwise, spatial, depthwise]);
  });

  test('unsupported dilations fail with a clear error', async () => {
    assert.ok(await tf.setBackend('wasm'));
    const x = tf.zeros([1, 5, 5, 2]);
    const dy = tf.zeros([1, 5, 5, 2]);
    try {
      assert.throws(
        () =>
          tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, {
            strides: 1,
            pad: 'same',
            dilations: 2,
            filterShape: [3, 3, 2, 1],
          } as unknown as tf.NamedAttrMap),
        /DepthwiseConv2dNativeBackpropFilter: dilations 2/,
      );
    } finally {
      tf.dispose([x, dy]);
    }
  });

  test('tf.grads through a small EfficientNet-like net: wasm matches cpu', async () => {
    // Strided 3x3 stem, then an MBConv block (1x1 expand, 3x3 depthwise, squeeze-excitation, 1x1 project,
    // residual) with batch-statistics BatchNormalization and swish, then a strided 5x5 depthwise conv:
    // every added and replaced kernel in a real backward pass.
    const shapes: Record<string, number[]> = {
      stem: [3, 3, 3, 8],
      expand: [1, 1, 8, 32],
      depthwise: [3, 3, 32, 1],
      seReduce: [1, 1, 32, 4],
      seReduceBias: [4],
      seExpand: [1, 1, 4, 32],
      project: [1, 1, 32, 8],
      tail: [5, 5, 8, 1],
      gamma8: [8],
      beta8: [8],
      gamma32: [32],
      beta32: [32],
    };
    const names = ['input', ...Object.keys(shapes)];
    const input = [2, 16, 16, 3];
    const values = names.map((name, i) => randomArray(sizeOf(name === 'input' ? input : shapes[name]!), 100 + i));

    const swish = (t: tf.Tensor4D) => tf.mul(t, tf.sigmoid(t)) as tf.Tensor4D;
    const batchNorm = (t: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor) => {
      const { mean, variance } = tf.moments(t, [0, 1, 2]);
      return tf.batchNorm(t, mean, variance, beta as tf.Tensor1D, gamma as tf.Tensor1D, 1e-3) as tf.Tensor4D;
    };
    const loss = (...t: tf.Tensor[]) => {
      const [x, stem, expand, depthwise, seReduce, seReduceBias, seExpand, project, tail, g8, b8, g32, b32] =
        t as tf.Tensor4D[];
      const h0 = swish(batchNorm(tf.conv2d(x!, stem!, 2, 'same'), g8!, b8!));
      let h = swish(batchNorm(tf.conv2d(h0, expand!, 1, 'same'), g32!, b32!));
      h = swish(batchNorm(tf.depthwiseConv2d(h, depthwise!, 1, 'same'), g32!, b32!));
      let se = tf.mean(h, [1, 2], true) as tf.Tensor4D;
      se = swish(tf.fused.conv2d({ x: se, filter: seReduce!, strides: 1, pad: 'same', bias: seReduceBias }));
      h = tf.mul(h, tf.sigmoid(tf.conv2d(se, seExpand!, 1, 'same'))) as tf.Tensor4D;
      h = tf.add(batchNorm(tf.conv2d(h, project!, 1, 'same'), g8!, b8!), h0) as tf.Tensor4D;
      h = tf.depthwiseConv2d(h, tail!, 2, 'same');
      return tf.sum(tf.square(h));
    };
    const gradsOn = async (backend: 'wasm' | 'cpu'): Promise<Float32Array[]> => {
      assert.ok(await tf.setBackend(backend));
      return tf.tidy(() => {
        const tensors = names.map((name, i) => tf.tensor(values[i]!, name === 'input' ? input : shapes[name]));
        return tf
          .grads(loss)(tensors)
          .map((g) => Float32Array.from(g.dataSync() as Float32Array));
      });
    };
    const cpu = await gradsOn('cpu');
    const wasm = await gradsOn('wasm');
    cpu.forEach((expected, i) => assertClose(wasm[i]!, expected, `d loss / d ${names[i]}`));
  });
});
