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
import { batchNormTrainKernelName } from '../../src/compute/wasm-kernels/batch-norm-train.js';
import { createAdam } from '../../src/training/fused-adam.js';
import { setUpPhase } from '../../src/training/phase-setup.js';
import { imageTrainStep, trainableVariables } from '../../src/training/training-steps.js';
import { runInterleavedAb, unfuseSwish } from './interleaved-ab.js';

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

await runInterleavedAb(
  `B0 full step, ${size} px, batch ${batch}, wasm ${backend.threads ?? 1} thread(s)`,
  variants.map((v) => ({ name: v.name, run: () => step(v) })),
  Number(opts.rounds),
);
