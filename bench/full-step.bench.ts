/**
 * A full fine-tuning step of EfficientNet-B0: every layer trainable, BatchNormalization in training mode,
 * Adam (the trainer's fused one, createAdam), as PhaseRunner runs phase 2 with unfreeze 'all' (imageTrainStep). The same step as
 * bench/kernels/efficientnet-train-step.bench.ts (which uses model.trainOnBatch), taken through the
 * trainer's own step function.
 *
 *   node --import tsx bench/full-step.bench.ts [--backend wasm|cpu] [--size 96] [--batch 8] [--warmup 1]
 *       [--runs 5] [--classes 10] [--profile 0]
 *
 * The warm-up step also creates Adam's moments. --profile N then profiles N more steps and prints the top
 * kernels on stderr.
 */
import { parseArgs } from 'node:util';
import { selectBackend, type BackendPreference } from '../src/compute/backend.js';
import { tf } from '../src/compute/tf.js';
import { buildEfficientNet } from '../src/model/efficientnet.js';
import { DropoutControl } from '../src/training/dropout-control.js';
import { createAdam } from '../src/training/fused-adam.js';
import { setUpPhase } from '../src/training/phase-setup.js';
import { imageTrainStep, trainableVariables } from '../src/training/training-steps.js';
import { formatKernelTimes, profileKernels } from './kernel-profile.js';
import { emitResult } from './bench-result.js';
import { timeRuns, timingFields } from './run-timing.js';

const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    size: { type: 'string', default: '96' },
    batch: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    profile: { type: 'string', default: '0' },
    classes: { type: 'string', default: '10' },
  },
});
const size = Number(opts.size);
const batch = Number(opts.batch);
const numClasses = Number(opts.classes);
const seed = 1;

const backend = await selectBackend(opts.backend as BackendPreference);
const model = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses, seed });
setUpPhase(model, 'finetune', 'train', 'all');
const dropout = new DropoutControl(model);
const optimizer = createAdam(1e-4);
const variables = trainableVariables(model);

const x = new Float32Array(batch * size * size * 3);
for (let i = 0; i < x.length; i++) x[i] = Math.random() * 255;
const y = Int32Array.from({ length: batch }, (_, i) => i % numClasses);

const step = (index: number) => {
  dropout.prepareStep(seed, 'finetune', 1, index);
  imageTrainStep(model, optimizer, variables, { x, y, size: batch }, size);
};
const timing = await timeRuns(step, { warmup: Number(opts.warmup), runs: Number(opts.runs) });
if (Number(opts.profile) > 0) {
  console.error(formatKernelTimes(await profileKernels(() => step(0), Number(opts.profile)), 25, timing.medianMs));
}
emitResult({
  task: 'full-step',
  engine: `tfjs-${backend.name}`,
  imageSize: size,
  batch,
  ...timingFields(timing, batch),
  versions: { tfjs: tf.version.tfjs, [backend.name]: backend.version },
  details: { trainableVariables: variables.length, threads: backend.threads ?? 1 },
});
optimizer.dispose();
model.dispose();
