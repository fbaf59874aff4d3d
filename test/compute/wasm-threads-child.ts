// Child process of wasm-threads.test.ts: selects 'wasm' with the TF_WASM_THREADS it was given, computes
// a few things XNNPACK and our own wasm gradient kernels run, and prints them as one JSON line. With
// `--wait-for-sigterm` it then idles like a server until SIGTERM, stops its timer and lets the event loop
// drain: a worker thread left referenced would keep it alive.
import { selectBackend } from '../../src/compute/backend.js';
import { tf } from '../../src/compute/tf.js';
import { randomArray, sizeOf } from './backend-comparison.js';

const info = await selectBackend('wasm');
const random = (shape: number[], seed: number) => tf.tensor(randomArray(sizeOf(shape), seed), shape);

const results = tf.tidy(() => {
  const x = random([2, 20, 20, 16], 1) as tf.Tensor4D;
  const filter = random([3, 3, 16, 24], 2) as tf.Tensor4D;
  const depthwise = random([3, 3, 24, 1], 3) as tf.Tensor4D;
  const pointwise = random([1, 1, 24, 32], 4) as tf.Tensor4D;
  const loss = (f: tf.Tensor, d: tf.Tensor, p: tf.Tensor) => {
    const a = tf.conv2d(x, f as tf.Tensor4D, 2, 'same');
    const b = tf.depthwiseConv2d(a, d as tf.Tensor4D, 1, 'same');
    return tf
      .conv2d(b, p as tf.Tensor4D, 1, 'valid')
      .square()
      .sum();
  };
  // Conv2DBackpropFilter, Conv2DBackpropInput and both depthwise gradients: our kernels on XNNPACK matmuls.
  const grads = tf.grads(loss)([filter, depthwise, pointwise]);
  return {
    matMul: tf.matMul(random([256, 320], 5), random([320, 288], 6)),
    conv2d: tf.conv2d(x, filter, 1, 'same'),
    filterGrad: grads[0]!,
    depthwiseGrad: grads[1]!,
    pointwiseGrad: grads[2]!,
  };
});
const values = Object.fromEntries(
  Object.entries(results).map(([name, tensor]) => [name, Array.from(tensor.dataSync())]),
);
tf.dispose(Object.values(results));
console.log(JSON.stringify({ threads: info.threads, threadsFallback: info.threadsFallback, values }));

if (process.argv.includes('--wait-for-sigterm')) {
  const idle = setInterval(() => {}, 1000);
  process.once('SIGTERM', () => clearInterval(idle));
  console.log('waiting');
}
