/**
 * A/B of EfficientNet-B0 inference (model.predict, batch 8) on tfjs: tfjs-layers' own swish and unfolded
 * BatchNormalization ('tfjs'), our fused swish kernel ('swish', model/fused-swish.ts), and fused swish with
 * BatchNormalization folded into the convolutions ('folded', model/batch-norm-folding.ts, what TfjsEngine
 * serves). Variants run interleaved, round by round, in one process, so a noisy machine disturbs them alike.
 *
 *   TF_WASM_THREADS=1 node --import tsx bench/kernels/inference-ab.bench.ts [--size 224] [--batch 8] [--rounds 8]
 *
 * Prints each variant's median wall and CPU time per batch and its kernel calls per batch.
 */
import { parseArgs } from 'node:util';
import { selectBackend } from '../../src/compute/backend.js';
import { tf, type LayersModel, type Tensor } from '../../src/compute/tf.js';
import { foldedInferenceModel } from '../../src/model/batch-norm-folding.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { FusedSwish } from '../../src/model/fused-swish.js';

const { values: opts } = parseArgs({
  options: {
    size: { type: 'string', default: '224' },
    batch: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '8' },
  },
});
const size = Number(opts.size);
const batch = Number(opts.batch);
const backend = await selectBackend('wasm');

const fusedModel = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses: 1000, seed: 1 });
const unfusedModel = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses: 1000, seed: 1 });
const tfjsSwish = (tf.layers.activation({ activation: 'swish' }) as unknown as { activation: unknown }).activation;
for (const layer of unfusedModel.layers as unknown as { activation?: unknown }[]) {
  if (layer.activation instanceof FusedSwish) layer.activation = tfjsSwish;
}
const variants: { name: string; net: LayersModel; wall: number[]; cpu: number[]; kernels: number }[] = [
  { name: 'tfjs', net: unfusedModel, wall: [], cpu: [], kernels: 0 },
  { name: 'swish', net: fusedModel, wall: [], cpu: [], kernels: 0 },
  { name: 'folded', net: foldedInferenceModel(fusedModel).model, wall: [], cpu: [], kernels: 0 },
];

const pixels = new Float32Array(batch * size * size * 3);
for (let i = 0; i < pixels.length; i++) pixels[i] = Math.random() * 255;
const infer = (net: LayersModel) =>
  tf.tidy(() => (net.predict(tf.tensor4d(pixels, [batch, size, size, 3])) as Tensor).dataSync());

for (const v of variants) {
  infer(v.net);
  const profile = await tf.profile(() => void infer(v.net));
  v.kernels = profile.kernels.filter((k) => !/__op$/.test(k.name)).length;
}
const rounds = Number(opts.rounds);
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < variants.length; i++) {
    const v = variants[(i + r) % variants.length]!;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    infer(v.net);
    v.wall.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    v.cpu.push((cpu.user + cpu.system) / 1000);
  }
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
const [baseWall, baseCpu] = [median(variants[0]!.wall), median(variants[0]!.cpu)];
console.log(`B0 inference, ${size} px, batch ${batch}, wasm ${backend.threads ?? 1} thread(s), ${rounds} rounds`);
console.log(
  ['variant', 'wall median ms', 'wall min', 'speed-up', 'CPU median ms', 'CPU min', 'speed-up', 'kernels'].join('\t'),
);
for (const v of variants) {
  const [w, c] = [median(v.wall), median(v.cpu)];
  console.log(
    [
      v.name,
      w.toFixed(1),
      Math.min(...v.wall).toFixed(1),
      (baseWall / w).toFixed(3) + 'x',
      c.toFixed(1),
      Math.min(...v.cpu).toFixed(1),
      (baseCpu / c).toFixed(3) + 'x',
      v.kernels,
    ].join('\t'),
  );
}
