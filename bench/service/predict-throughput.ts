/**
 * The service's own /predict throughput: real HTTP, multipart JPEG upload, decoding, dynamic batching and
 * the inference engine, for EfficientNet-B0 at 224 px, with N concurrent clients sending 8 images per
 * request. Prints images per second, request latency percentiles, the engine that served, and, where
 * /usr/bin/python3 has torch, PyTorch's efficientnet_b0 inference at the same size in the same run.
 *
 *   node --import tsx bench/service/predict-throughput.ts [--seconds 20] [--clients 2] [--images 8]
 *       [--engine onnxruntime|tfjs] [--no-pytorch]
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { exportArtifactToOnnx } from '../../src/onnx/export-artifact-onnx.js';
import { startLocalRedis } from '../../src/services/local-redis.js';
import { registrationFileName } from '../../src/services/model-registry.js';
import { writeModelArtifact } from '../../test/inference/model-artifact-fixture.js';
import { pytorchImagesPerSecond } from './pytorch-reference.js';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    clients: { type: 'string', default: '2' },
    images: { type: 'string', default: '8' },
    engine: { type: 'string', default: 'onnxruntime' },
    'no-pytorch': { type: 'boolean', default: false },
  },
});
const seconds = Number(flags.seconds);
const clients = Number(flags.clients);
const perRequest = Number(flags.images);
if (flags.engine === 'tfjs') process.env.INFERENCE_ENGINE = 'tfjs';

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'effnet-bench-service-'));
const redis = await startLocalRedis(path.join(work, 'redis'), { persist: false });
const config = loadConfig({
  DATA_DIR: path.join(work, 'data'),
  REDIS_URL: redis.url,
  TF_BACKEND: 'wasm',
  LOG_LEVEL: 'warn',
});
const app = await buildApp({ config, logger: false });
let result: Record<string, unknown>;
let summary: string;
try {
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const modelDir = path.join(config.dataDir, 'models', 'mdl-bench');
  const artifact = await writeModelArtifact(modelDir, {
    imageSize: 224,
    classes: Array.from({ length: 10 }, (_, i) => `class-${i}`),
  });
  artifact.model.dispose();
  if (flags.engine !== 'tfjs') await exportArtifactToOnnx(modelDir);
  await fs.writeFile(
    path.join(modelDir, registrationFileName),
    JSON.stringify({ id: 'mdl-bench', jobId: 'job-bench', datasetId: 'ds-bench', createdAt: new Date().toISOString() }),
  );
  // Camera-like JPEGs, larger than the model input, so decoding and resizing are part of the cost.
  const images = await Promise.all(
    Array.from({ length: perRequest }, (_, i) => {
      const raw = Buffer.alloc(320 * 320 * 3);
      for (let p = 0; p < raw.length; p++) raw[p] = (p * (i + 7) + (p >> 5)) & 255;
      return sharp(raw, { raw: { width: 320, height: 320, channels: 3 } })
        .jpeg({ quality: 90 })
        .toBuffer();
    }),
  );
  const form = () => {
    const body = new FormData();
    images.forEach((image, i) => body.append('file', new Blob([image]), `image-${i}.jpg`));
    return body;
  };
  const predict = async () => {
    const res = await fetch(`${base}/v1/models/mdl-bench/predict?topK=5`, { method: 'POST', body: form() });
    if (res.status !== 200) throw new Error(`predict answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < 3; i++) await predict(); // load the model and warm up

  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await predict();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
  const imagesPerSecond = (latencies.length * perRequest) / elapsed;
  const ready = (await (await fetch(`${base}/ready`)).json()) as { inference: { engine: string; backend: string } };
  result = {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    engine: ready.inference.engine,
    backend: ready.inference.backend,
    clients,
    imagesPerRequest: perRequest,
    requests: latencies.length,
    imagesPerSecond: Math.round(imagesPerSecond * 10) / 10,
    latencyMs: { p50: Math.round(pct(50)), p90: Math.round(pct(90)), p99: Math.round(pct(99)) },
  };
  summary =
    `/predict B0 224 px, ${clients} clients x ${perRequest} images, engine ${String(result.engine)}: ` +
    `${result.imagesPerSecond} img/s, p50 ${pct(50).toFixed(0)} ms, p99 ${pct(99).toFixed(0)} ms`;
} finally {
  await app.close();
  await redis.stop();
  await fs.rm(work, { recursive: true, force: true });
}

// PyTorch runs after the service has closed: onnxruntime's idle threads spin for a while after a run.
if (!flags['no-pytorch']) {
  const torch = pytorchImagesPerSecond('inference', 224);
  if (typeof torch === 'string') result.pytorch = torch;
  else {
    result.pytorchImagesPerSecond = torch;
    result.ratioToPytorch = Math.round(((result.imagesPerSecond as number) / torch) * 100) / 100;
  }
}
console.log(JSON.stringify(result, null, 2));
console.log(
  `\n${summary}` +
    (result.ratioToPytorch
      ? `, ${String(result.ratioToPytorch)}x PyTorch (${Number(result.pytorchImagesPerSecond).toFixed(1)} img/s)`
      : ''),
);
