/**
 * Per-kernel time of the convolution gradient kernels for EfficientNet-B0's layers, wasm vs cpu.
 *
 *   npx tsx bench/kernels/wasm-gradient-kernels.bench.ts [--size 96] [--batch 8] [--cpu all|some|none]
 *
 * wasm runs every layer (its column sums to the per-step cost of each kernel); cpu is slow, so by default it
 * runs one repetition on a few representative layers only.
 */
import { parseArgs } from 'node:util';
import { selectBackend } from '../../src/compute/backend.js';
import { tf } from '../../src/compute/tf.js';
import { efficientNetB0ConvLayers, type ConvLayer } from './efficientnet-b0-conv-layers.js';

const { values: opts } = parseArgs({
  options: {
    size: { type: 'string', default: '96' },
    batch: { type: 'string', default: '8' },
    cpu: { type: 'string', default: 'some' },
    reps: { type: 'string', default: '3' },
  },
});
const imageSize = Number(opts.size);
const batch = Number(opts.batch);
const reps = Number(opts.reps);
const cpuLayers = new Set([
  'stem',
  'block1a_dwconv',
  'block2a_expand',
  'block2a_dwconv',
  'block3b_dwconv',
  'block6b_project',
  'top',
]);

type KernelName =
  | 'Conv2DBackpropFilter'
  | 'Conv2DBackpropInput'
  | 'DepthwiseConv2dNativeBackpropFilter'
  | 'DepthwiseConv2dNativeBackpropInput';

interface KernelCall {
  kernel: KernelName;
  inputs: Record<string, number[]>;
  attrs: Record<string, unknown>;
}

function callsFor(layer: ConvLayer): KernelCall[] {
  const [h, w, cin] = layer.input;
  const depthwise = layer.kind === 'depthwise';
  const x = [batch, h, w, cin];
  const filter = depthwise
    ? [layer.kernel, layer.kernel, cin, 1]
    : [layer.kernel, layer.kernel, cin, layer.outChannels];
  const info = tf.backend_util.computeConv2DInfo(
    x as [number, number, number, number],
    filter as [number, number, number, number],
    layer.stride,
    1,
    layer.pad,
    undefined,
    depthwise,
  );
  const dy = info.outShape;
  const common = { strides: layer.stride, pad: layer.pad };
  if (depthwise) {
    return [
      {
        kernel: 'DepthwiseConv2dNativeBackpropFilter',
        inputs: { x, dy },
        attrs: { ...common, dilations: 1, filterShape: filter },
      },
      {
        kernel: 'DepthwiseConv2dNativeBackpropInput',
        inputs: { dy, filter },
        attrs: { ...common, dilations: 1, inputShape: x },
      },
    ];
  }
  const calls: KernelCall[] = [
    {
      kernel: 'Conv2DBackpropFilter',
      inputs: { x, dy },
      attrs: { ...common, dataFormat: 'NHWC', filterShape: filter },
    },
  ];
  // The stem's input is the image: training never asks for its gradient.
  if (layer.name !== 'stem') {
    calls.push({
      kernel: 'Conv2DBackpropInput',
      inputs: { dy, filter },
      attrs: { ...common, dataFormat: 'NHWC', inputShape: x },
    });
  }
  return calls;
}

async function timeCall(backend: 'wasm' | 'cpu', call: KernelCall, repetitions: number): Promise<number> {
  await tf.setBackend(backend);
  const values = Object.entries(call.inputs).map(([k, shape]) => {
    const t = tf.randomNormal(shape);
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return [k, shape, v] as const;
  });
  // Fresh input tensors for every run: XNNPACK caches packed operands by tensor id, which a training step
  // never reuses, so timing the same tensors again would flatter the matrix-product paths.
  const run = () => {
    const inputs = Object.fromEntries(values.map(([k, shape, v]) => [k, tf.tensor(v, shape)]));
    const t0 = performance.now();
    const out = tf.engine().runKernel(call.kernel, inputs, call.attrs as tf.NamedAttrMap) as tf.Tensor;
    out.dataSync();
    const ms = performance.now() - t0;
    tf.dispose([out, ...Object.values(inputs)]);
    return ms;
  };
  if (repetitions > 1) run();
  const times = Array.from({ length: repetitions }, run);
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

await selectBackend('wasm');
const rows: { layer: string; kernel: KernelName; shape: string; wasm: number; cpu?: number }[] = [];
for (const layer of efficientNetB0ConvLayers(imageSize)) {
  for (const call of callsFor(layer)) {
    const wasm = await timeCall('wasm', call, reps);
    const runCpu = opts.cpu === 'all' || (opts.cpu === 'some' && cpuLayers.has(layer.name));
    const cpu = runCpu ? await timeCall('cpu', call, 1) : undefined;
    const shape = `${Object.values(call.inputs)[0]!.join('x')} k${layer.kernel} s${layer.stride}`;
    rows.push({ layer: layer.name, kernel: call.kernel, shape, wasm, cpu });
  }
}

const fmt = (ms: number | undefined) => (ms === undefined ? '' : ms.toFixed(2));
console.log(`EfficientNet-B0 convolution gradients, ${imageSize}px, batch ${batch} (ms, median of ${reps} on wasm)`);
console.log(['kernel', 'layer', 'input', 'wasm', 'cpu', 'cpu/wasm'].join('\t'));
for (const r of rows) {
  const ratio = r.cpu === undefined ? '' : (r.cpu / r.wasm).toFixed(0) + 'x';
  console.log([r.kernel, r.layer, r.shape, fmt(r.wasm), fmt(r.cpu), ratio].join('\t'));
}
console.log('\nper-step totals on wasm (all layers):');
const kernels = [...new Set(rows.map((r) => r.kernel))];
for (const kernel of kernels) {
  const mine = rows.filter((r) => r.kernel === kernel);
  const withCpu = mine.filter((r) => r.cpu !== undefined);
  const cpuPart = withCpu.length
    ? `; on the ${withCpu.length} cpu-timed layers wasm ${fmt(withCpu.reduce((a, r) => a + r.wasm, 0))} ms vs cpu ${fmt(withCpu.reduce((a, r) => a + r.cpu!, 0))} ms`
    : '';
  console.log(`  ${kernel}: ${fmt(mine.reduce((a, r) => a + r.wasm, 0))} ms over ${mine.length} layers${cpuPart}`);
}
