/**
 * EfficientNet-B0 inference throughput of one engine, one task, one size (a process each, so that peak RSS
 * belongs to that measurement alone and selectBackend can pick the backend).
 *
 *   node --import tsx bench/inference.bench.ts --backend wasm|cpu|onnxruntime [--task inference|features]
 *       [--size 224] [--batch 8] [--warmup 1] [--runs 5] [--classes 1000] [--threads 2] [--profile 0]
 *
 * inference: class probabilities (the classifier); features: the avg_pool vector (featureExtractor, or
 * the ONNX export with outputs 'features-only'). Random weights, random pixels in 0..255. Each run makes
 * its input tensor from a Float32Array and reads the output back, as a served request does.
 * --profile N (tfjs only) then profiles N more runs and prints the top kernels on stderr.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { selectBackend, type BackendPreference } from '../src/compute/backend.js';
import { tf, type LayersModel, type Tensor } from '../src/compute/tf.js';
import { buildEfficientNet } from '../src/model/efficientnet.js';
import { foldedInferenceModel } from '../src/model/batch-norm-folding.js';
import { featureExtractor } from '../src/model/feature-extractor.js';
import { createOnnxSession, runOnnx } from '../src/onnx/onnx-engine.js';
import { exportToOnnx } from '../src/onnx/onnx-exporter.js';
import { formatKernelTimes, profileKernels } from './kernel-profile.js';
import { emitResult, type BenchResult } from './bench-result.js';
import { timeRuns, timingFields } from './run-timing.js';

const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    task: { type: 'string', default: 'inference' },
    size: { type: 'string', default: '224' },
    batch: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    profile: { type: 'string', default: '0' },
    classes: { type: 'string', default: '1000' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
  },
});
const size = Number(opts.size);
const batch = Number(opts.batch);
const task = opts.task;
if (task !== 'inference' && task !== 'features') throw new Error(`--task must be inference or features, got ${task}`);
const schedule = { warmup: Number(opts.warmup), runs: Number(opts.runs) };

// The ONNX run only needs tfjs to build and export the model: the cpu backend keeps those weights in
// plain JS arrays that are freed afterwards, instead of growing the wasm heap for good.
const onnx = opts.backend === 'onnxruntime';
const backend = await selectBackend(onnx ? 'cpu' : (opts.backend as BackendPreference));
const model = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses: Number(opts.classes), seed: 1 });
const pixels = new Float32Array(batch * size * size * 3);
for (let i = 0; i < pixels.length; i++) pixels[i] = Math.random() * 255;

let result: Omit<BenchResult, 'task' | 'imageSize' | 'batch'>;
if (onnx) {
  const bytes = exportToOnnx(model, { outputs: task === 'inference' ? 'classifier' : 'features-only' });
  model.dispose();
  const session = await createOnnxSession(bytes, { intraOpThreads: Number(opts.threads) });
  const timing = await timeRuns(() => runOnnx(session, pixels, batch, size), schedule);
  result = {
    engine: 'onnxruntime',
    ...timingFields(timing, batch),
    versions: { onnxruntime: session.runtimeVersion },
    details: { intraOpThreads: session.intraOpThreads, onnxBytes: bytes.byteLength },
  };
  await session.release();
} else {
  // What TfjsEngine serves (and the phase-1 cache's tfjs fallback runs): BatchNormalization folded into the
  // convolutions.
  const net: LayersModel = foldedInferenceModel(task === 'inference' ? model : featureExtractor(model)).model;
  const infer = () => {
    tf.tidy(() => (net.predict(tf.tensor4d(pixels, [batch, size, size, 3])) as Tensor).dataSync());
  };
  const timing = await timeRuns(infer, schedule);
  if (Number(opts.profile) > 0) {
    console.error(formatKernelTimes(await profileKernels(infer, Number(opts.profile)), 20, timing.medianMs));
  }
  result = {
    engine: `tfjs-${backend.name}`,
    ...timingFields(timing, batch),
    versions: { tfjs: tf.version.tfjs, [backend.name]: backend.version },
    details: { threads: backend.threads ?? 1 },
  };
}
emitResult({ task, imageSize: size, batch, ...result });
