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
import { runInterleavedAb, unfuseSwish } from './interleaved-ab.js';

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
unfuseSwish(unfusedModel);

const pixels = new Float32Array(batch * size * size * 3);
for (let i = 0; i < pixels.length; i++) pixels[i] = Math.random() * 255;
const infer = (net: LayersModel) => () =>
  tf.tidy(() => (net.predict(tf.tensor4d(pixels, [batch, size, size, 3])) as Tensor).dataSync());

await runInterleavedAb(
  `B0 inference, ${size} px, batch ${batch}, wasm ${backend.threads ?? 1} thread(s)`,
  [
    { name: 'tfjs', run: infer(unfusedModel) },
    { name: 'swish', run: infer(fusedModel) },
    { name: 'folded', run: infer(foldedInferenceModel(fusedModel).model) },
  ],
  Number(opts.rounds),
);
