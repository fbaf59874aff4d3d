/**
 * A full fine-tuning step of EfficientNet-B0 (every layer trainable) and the kernels it spends its time in.
 *
 *   npx tsx bench/kernels/efficientnet-train-step.bench.ts [--backend wasm] [--size 96] [--batch 8]
 *       [--steps 3] [--bn train|inference] [--top 25] [--profiles 3]
 *
 * Prints images/second over the timed steps, then the kernels of a step grouped by name.
 */
import { parseArgs } from 'node:util';
import { selectBackend, type BackendPreference } from '../../src/compute/backend.js';
import { tf } from '../../src/compute/tf.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';

const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    size: { type: 'string', default: '96' },
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '3' },
    bn: { type: 'string', default: 'train' },
    top: { type: 'string', default: '25' },
    classes: { type: 'string', default: '10' },
    profiles: { type: 'string', default: '3' },
  },
});
const imageSize = Number(opts.size);
const batch = Number(opts.batch);
const numClasses = Number(opts.classes);

const info = await selectBackend(opts.backend as BackendPreference);
const model = buildEfficientNet({
  architecture: 'efficientnet-b0',
  imageSize,
  numClasses,
  bnMode: opts.bn as 'train' | 'inference',
  seed: 1,
});
model.trainable = true;
model.compile({ optimizer: tf.train.adam(1e-4), loss: 'categoricalCrossentropy' });

const x = tf.randomUniform([batch, imageSize, imageSize, 3], 0, 255);
const y = tf.oneHot(tf.randomUniform([batch], 0, numClasses, 'int32') as tf.Tensor1D, numClasses);
const step = () => model.trainOnBatch(x, y);

console.log(`backend ${info.name}, B0 ${imageSize}px, batch ${batch}, bn ${opts.bn}`);
let t0 = performance.now();
await step();
console.log(`first step (builds optimizer state): ${((performance.now() - t0) / 1000).toFixed(2)} s`);

const steps = Number(opts.steps);
const tensorsBefore = tf.memory().numTensors;
const cpuBefore = process.cpuUsage();
t0 = performance.now();
for (let i = 0; i < steps; i++) await step();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpuBefore);
// CPU time is the fairer figure on a shared machine: other processes stretch wall time, not our CPU time.
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(
  `${steps} steps: ${((seconds / steps) * 1000).toFixed(0)} ms/step wall (${((batch * steps) / seconds).toFixed(2)} img/s), ` +
    `${((cpuSeconds / steps) * 1000).toFixed(0)} ms/step CPU (${((batch * steps) / cpuSeconds).toFixed(2)} img/s)`,
);
console.log(
  `live tensors before/after the timed steps: ${tensorsBefore}/${tf.memory().numTensors}; ` +
    `RSS ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`,
);

// The machine is shared, so single kernel timings catch GC pauses and preemption: profile a few steps and
// keep, for every call of every kernel, its fastest time.
const profiledSteps = Number(opts.profiles);
const fastest = new Map<string, number[]>();
for (let p = 0; p < profiledSteps; p++) {
  const profile = await tf.profile(step);
  const ordinal = new Map<string, number>();
  for (const k of profile.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const i = ordinal.get(k.name) ?? 0;
    ordinal.set(k.name, i + 1);
    const times = fastest.get(k.name) ?? [];
    times[i] = Math.min(times[i] ?? Infinity, ms);
    fastest.set(k.name, times);
  }
}
const byKernel = [...fastest].map(([name, times]) => ({
  name,
  ms: times.reduce((a, b) => a + b, 0),
  calls: times.length,
}));
const total = byKernel.reduce((a, k) => a + k.ms, 0);
console.log(
  `\nkernel time per step: ${total.toFixed(0)} ms (fastest of ${profiledSteps} profiled steps for each call; ` +
    `wrapper ops such as fusedConv2d__op include the kernels they run)`,
);
console.log(['kernel', 'ms', 'share', 'calls'].join('\t'));
for (const { name, ms, calls } of byKernel.sort((a, b) => b.ms - a.ms).slice(0, Number(opts.top))) {
  console.log([name, ms.toFixed(1), ((ms / total) * 100).toFixed(1) + '%', calls].join('\t'));
}
