/**
 * A full fine-tuning epoch through a real job, the way a user gets one: dataset upload over HTTP, a job on
 * the BullMQ queue, a real training worker process (sandboxed processor, wasm backend), EfficientNet-B0
 * with every layer trainable at 96 px, batch 8. Prints the fine-tuning epochs' training images per second
 * as the job's own history reports them and, where /usr/bin/python3 has torch, PyTorch's full training step
 * at the same size in the same run.
 *
 *   node --import tsx bench/service/finetune-epoch.ts [--images-per-class 32] [--classes 2] [--epochs 2]
 *       [--size 96] [--no-pytorch]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startLocalRedis } from '../../src/services/local-redis.js';
import { zipDirectory } from '../../test/data/archive-fixtures.js';
import { writeShapesDataset } from '../../test/helpers/image-fixtures.js';
import { pytorchImagesPerSecond } from './pytorch-reference.js';

const { values: flags } = parseArgs({
  options: {
    'images-per-class': { type: 'string', default: '32' },
    classes: { type: 'string', default: '2' },
    epochs: { type: 'string', default: '2' },
    size: { type: 'string', default: '96' },
    'no-pytorch': { type: 'boolean', default: false },
  },
});
const perClass = Number(flags['images-per-class']);
const classes = Number(flags.classes);
const epochs = Number(flags.epochs);
const size = Number(flags.size);
const repoRoot = path.resolve(import.meta.dirname, '../..');

interface HistoryEntry {
  phase: 'head' | 'finetune';
  epoch: number;
  durationMs: number;
  imagesPerSecond?: number;
}
interface JobView {
  status: string;
  error: string | null;
  history: HistoryEntry[];
  attempt: number;
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'effnet-bench-finetune-'));
const redis = await startLocalRedis(path.join(work, 'redis'), { persist: false });
const config = loadConfig({ DATA_DIR: path.join(work, 'data'), REDIS_URL: redis.url, TF_BACKEND: 'wasm' });
const app = await buildApp({ config, logger: false });
const worker = spawn(process.execPath, ['--import', 'tsx', 'workers/training-worker.ts'], {
  cwd: repoRoot,
  env: { ...process.env, REDIS_URL: redis.url, DATA_DIR: config.dataDir, TF_BACKEND: 'wasm', LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
let result: Record<string, unknown>;
try {
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const images = path.join(work, 'images');
  await writeShapesDataset(images, { classes, perClass, size: 128, seed: 11, layout: 'flat' });
  await zipDirectory(images, path.join(work, 'images.zip'));
  const form = new FormData();
  form.append('file', new Blob([await fs.readFile(path.join(work, 'images.zip'))]), 'images.zip');
  const upload = await fetch(`${base}/v1/datasets`, { method: 'POST', body: form });
  if (upload.status !== 201) throw new Error(`upload answered ${upload.status}: ${await upload.text()}`);
  const { id: datasetId } = (await upload.json()) as { id: string };

  const created = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      datasetId,
      architecture: 'efficientnet-b0',
      weights: 'none',
      imageSize: size,
      augmentation: false,
      validationSplit: 0.2,
      seed: 1,
      head: { epochs: 1, batchSize: 8 },
      finetune: { epochs, batchSize: 8, bnMode: 'train', earlyStopping: false },
    }),
  });
  if (created.status !== 202) throw new Error(`job answered ${created.status}: ${await created.text()}`);
  const { id: jobId } = (await created.json()) as { id: string };
  const started = performance.now();
  let job: JobView;
  for (;;) {
    job = (await (await fetch(`${base}/v1/jobs/${jobId}`)).json()) as JobView;
    if (['completed', 'failed', 'cancelled'].includes(job.status)) break;
    if (worker.exitCode !== null) throw new Error(`the worker exited with ${worker.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (job.status !== 'completed') throw new Error(`job ${job.status}: ${job.error}`);
  const finetune = job.history.filter((h) => h.phase === 'finetune');
  const rates = finetune.map((h) => h.imagesPerSecond ?? 0);
  result = {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    backend: 'wasm',
    imageSize: size,
    batchSize: 8,
    trainingImages: Math.round(classes * perClass * 0.8),
    jobSeconds: Math.round((performance.now() - started) / 100) / 10,
    finetuneEpochs: finetune.map((h) => ({
      epoch: h.epoch,
      seconds: Math.round(h.durationMs / 100) / 10,
      imagesPerSecond: Math.round((h.imagesPerSecond ?? 0) * 10) / 10,
    })),
    // The first epoch includes the one-off cost of tracing the training graph; the best is the steady state.
    imagesPerSecond: Math.round(Math.max(...rates) * 10) / 10,
  };
} finally {
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  if (worker.exitCode === null) worker.kill('SIGTERM');
  await exited;
  await app.close();
  await redis.stop();
  await fs.rm(work, { recursive: true, force: true });
}

if (!flags['no-pytorch']) {
  const torch = pytorchImagesPerSecond('full-step', size);
  if (typeof torch === 'string') result.pytorch = torch;
  else {
    result.pytorchFullStepImagesPerSecond = torch;
    result.ratioToPytorch = Math.round(((result.imagesPerSecond as number) / torch) * 100) / 100;
  }
}
console.log(JSON.stringify(result, null, 2));
console.log(
  `\nfine-tuning epoch through a real job, B0 ${size} px, batch 8, wasm: ${String(result.imagesPerSecond)} img/s` +
    (result.ratioToPytorch ? `, ${String(result.ratioToPytorch)}x PyTorch's full step` : ''),
);
