/**
 * A/B of the fused training ops on a full fine-tuning step of EfficientNet-B0 (as bench/full-step.bench.ts
 * runs it): tfjs' own swish, training-mode BatchNormalization and Adam against our fused swish kernels
 * (model/fused-swish.ts), fused BatchNormalization kernels (wasm-kernels/batch-norm-train.ts) and fused Adam
 * (training/fused-adam.ts), in one process, steps interleaved round by round so that a noisy machine
 * disturbs every variant alike. A variant is a '+'-joined list of what it fuses: tfjs (nothing), adam,
 * swish, bn, or fused (all three).
 *
 *   TF_WASM_THREADS=1 node --import tsx bench/kernels/fused-ops-ab.bench.ts [--size 96] [--batch 8]
 *       [--rounds 8] [--variants tfjs,adam,swish,bn,fused]
 *
 * Prints, per variant, the median and the spread of its step times and its kernel calls per step.
 */
import { parseArgs } from 'node:util';
import { selectBackend } from '../../src/compute/backend.js';
import { tf, type LayersModel } from '../../src/compute/tf.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { FusedSwish } from '../../src/model/fused-swish.js';
import { batchNormTrainKernelName } from '../../src/compute/wasm-kernels/batch-norm-train.js';
import { createAdam } from '../../src/training/fused-adam.js';
import { setUpPhase } from '../../src/training/phase-setup.js';
import { imageTrainStep, trainableVariables } from '../../src/training/training-steps.js';

const { values: opts } = parseArgs({
  options: {
    size: { type: 'string', default: '96' },
    batch: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '8' },
    variants: { type: 'string', default: 'tfjs,adam,swish,bn,fused' },
  },
});
const size = Number(opts.size);
const batch = Number(opts.batch);
const numClasses = 10;

const backend = await selectBackend('wasm');

/** Puts tfjs-layers' own swish back where fuseSwishActivations put ours. */
function unfuseSwish(model: LayersModel): void {
  const tfjsSwish = (tf.layers.activation({ activation: 'swish' }) as unknown as { activation: unknown }).activation;
  for (const layer of model.layers as unknown as { activation?: unknown }[]) {
    if (layer.activation instanceof FusedSwish) layer.activation = tfjsSwish;
  }
}

function makeModel(fusedSwish: boolean): LayersModel {
  const model = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses, seed: 1, dropoutRate: 0 });
  if (!fusedSwish) unfuseSwish(model);
  setUpPhase(model, 'finetune', 'train', 'all');
  return model;
}

const names = opts.variants.split(',');
const models = new Map<boolean, LayersModel>();
const variants = names.map((name) => {
  const has = (part: string) => name === 'fused' || name.split('+').includes(part);
  const [fusedSwish, fusedAdam, fusedBatchNorm] = [has('swish'), has('adam'), has('bn')];
  if (!models.has(fusedSwish)) models.set(fusedSwish, makeModel(fusedSwish));
  const model = models.get(fusedSwish)!;
  const optimizer = fusedAdam ? createAdam(1e-4) : tf.train.adam(1e-4);
  return {
    name,
    model,
    optimizer,
    fusedBatchNorm,
    variables: trainableVariables(model),
    times: [] as number[],
    cpu: [] as number[],
    kernels: 0,
  };
});

const x = new Float32Array(batch * size * size * 3);
for (let i = 0; i < x.length; i++) x[i] = Math.random() * 255;
const y = Int32Array.from({ length: batch }, (_, i) => i % numClasses);
// The BatchNormalization layer takes the fused path when its kernel is registered.
const batchNormKernel = tf.getKernel(batchNormTrainKernelName, 'wasm')!;
const step = (v: (typeof variants)[number]) => {
  const registered = tf.getKernel(batchNormTrainKernelName, 'wasm') != null;
  if (registered && !v.fusedBatchNorm) tf.unregisterKernel(batchNormTrainKernelName, 'wasm');
  if (!registered && v.fusedBatchNorm) tf.registerKernel(batchNormKernel);
  return imageTrainStep(v.model, v.optimizer, v.variables, { x, y, size: batch }, size);
};

for (const v of variants) {
  step(v); // warm-up: creates Adam's moments and XNNPACK's operators
  const profile = await tf.profile(() => void step(v));
  v.kernels = profile.kernels.filter((k) => !/__op$/.test(k.name)).length;
}
const rounds = Number(opts.rounds);
for (let r = 0; r < rounds; r++) {
  // Rotate the order so no variant always runs right after the same one.
  for (let i = 0; i < variants.length; i++) {
    const v = variants[(i + r) % variants.length]!;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    step(v);
    v.times.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    v.cpu.push((cpu.user + cpu.system) / 1000);
  }
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
const base = median(variants[0]!.times);
const baseCpu = median(variants[0]!.cpu);
console.log(`B0 full step, ${size} px, batch ${batch}, wasm ${backend.threads ?? 1} thread(s), ${rounds} rounds`);
// CPU time is the steadier figure on a shared machine: waiting for a core stretches wall time only.
const header = [
  'variant',
  'wall median ms',
  'wall min',
  `speed-up`,
  'CPU median ms',
  'CPU min',
  'speed-up',
  'kernel calls',
];
console.log(header.join('\t'));
for (const v of variants) {
  const [m, c] = [median(v.times), median(v.cpu)];
  console.log(
    [
      v.name,
      m.toFixed(1),
      Math.min(...v.times).toFixed(1),
      (base / m).toFixed(3) + 'x',
      c.toFixed(1),
      Math.min(...v.cpu).toFixed(1),
      (baseCpu / c).toFixed(3) + 'x',
      v.kernels,
    ].join('\t'),
  );
}
