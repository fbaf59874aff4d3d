import autocannon, { type AutocannonResult } from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { selectBackend, type BackendPreference } from '../src/compute/backend.js';
import { exportArtifactToOnnx } from '../src/onnx/export-artifact-onnx.js';
import { freePort, startLocalRedis } from '../src/services/local-redis.js';
import { registrationFileName } from '../src/services/model-registry.js';
import { writeModelArtifact } from '../test/inference/model-artifact-fixture.js';
import { machineInfo, round2 } from './machine-info.js';
import {
  defaultBounds,
  judge,
  memoryFromMetrics,
  type MemorySnapshot,
  type SoakBounds,
  type SoakReport,
} from './soak-report.js';

/**
 * The soak: the real service (`start:api` in its own process, with its inference child and a throwaway
 * redis-server) serving a registered B0, driven by autocannon with multipart JPEG uploads to /predict for a
 * fixed time at a fixed concurrency. Memory comes from the service's /metrics, as an operator would see it.
 */

export interface SoakOptions {
  durationSeconds: number;
  connections: number;
  /** Load before the start snapshot: models load, batch shapes and allocators settle. */
  warmupSeconds: number;
  imageSize: number;
  imagesPerRequest: number;
  /** 'onnxruntime' exports model.onnx as a finished job does; 'tfjs' serves the layers model. */
  engine: 'onnxruntime' | 'tfjs';
  tfBackend: BackendPreference;
  /** Seconds between the memory samples taken during the load (kept in the report). */
  sampleSeconds: number;
  bounds: SoakBounds;
  log: (line: string) => void;
}

export const defaultSoakOptions: SoakOptions = {
  durationSeconds: 30,
  connections: 8,
  warmupSeconds: 5,
  imageSize: 224,
  imagesPerRequest: 1,
  engine: 'onnxruntime',
  tfBackend: 'auto',
  sampleSeconds: 5,
  bounds: defaultBounds,
  log: () => {},
};

const root = path.resolve(import.meta.dirname, '..');
const modelId = 'mdl-soak';
/** The inference pool's largest batch (InferencePool's maxBatchSize default). */
const fullBatchImages = 8;

export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakReport> {
  const options = { ...defaultSoakOptions, ...partial };
  const { log } = options;
  const machine = await machineInfo();
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'effnet-soak-'));
  const redis = await startLocalRedis(path.join(work, 'redis'), { persist: false });
  let api: ApiProcess | undefined;
  try {
    const dataDir = path.join(work, 'data');
    log(`writing a ${options.imageSize} px B0 model (${options.engine})`);
    await writeModel(path.join(dataDir, 'models', modelId), options);
    const jpeg = await cameraLikeJpeg();
    const boundary = `soak${Date.now().toString(16)}`;
    const body = multipartBody(
      boundary,
      Array.from({ length: options.imagesPerRequest }, () => jpeg),
    );

    api = await startApi(dataDir, redis.url, options);
    log(`api ${api.base} (pid ${api.process.pid})`);
    const url = `${api.base}/v1/models/${modelId}/predict?topK=5`;
    const headers = { 'content-type': `multipart/form-data; boundary=${boundary}` };
    // One request of a full batch first: the wasm heap grows to the largest batch it has run and keeps that
    // size, which would otherwise show up as growth whenever the load happens to form a fuller batch.
    const fullBatch = multipartBody(
      boundary,
      Array.from({ length: fullBatchImages }, () => jpeg),
    );
    const first = await fetch(url, { method: 'POST', headers, body: fullBatch });
    if (first.status !== 200) throw new Error(`predict answered ${first.status}: ${await first.text()}`);
    const ready = (await (await fetch(`${api.base}/ready`)).json()) as {
      inference: { engine: string; backend: string };
    };

    const load = (seconds: number) =>
      autocannon({ url, method: 'POST', headers, body, connections: options.connections, duration: seconds });
    if (options.warmupSeconds > 0) {
      log(`warm-up: ${options.warmupSeconds} s`);
      await load(options.warmupSeconds);
    }
    const base = api.base;
    const scrape = async (atSeconds: number) =>
      memoryFromMetrics(await (await fetch(`${base}/metrics`)).text(), atSeconds);
    const start = await scrape(0);
    log(`load: ${options.durationSeconds} s at ${options.connections} connections`);
    const began = performance.now();
    const samples: MemorySnapshot[] = [];
    const sampler = setInterval(() => {
      void scrape(round2((performance.now() - began) / 1000)).then(
        (sample) => samples.push(sample),
        () => undefined,
      );
    }, options.sampleSeconds * 1000);
    let result: AutocannonResult;
    try {
      result = await load(options.durationSeconds);
    } finally {
      clearInterval(sampler);
    }
    const end = await scrape(round2((performance.now() - began) / 1000));

    const failed = result.non2xx + result.errors;
    const statusCodes = Object.fromEntries(
      Object.entries(result.statusCodeStats).map(([code, stats]) => [code, stats.count]),
    );
    const perSecond = round2(result.requests.total / result.duration);
    return {
      date: machine.date,
      machine: {
        cpuModel: machine.cpuModel,
        cores: machine.cores,
        node: machine.node,
        loadAverage: { start: machine.loadAverage.start, end: round2(os.loadavg()[0]!) },
      },
      settings: {
        durationSeconds: options.durationSeconds,
        warmupSeconds: options.warmupSeconds,
        connections: options.connections,
        imagesPerRequest: options.imagesPerRequest,
        imageSize: options.imageSize,
        architecture: 'efficientnet-b0',
        jpegBytes: jpeg.length,
      },
      engine: ready.inference.engine,
      backend: ready.inference.backend,
      requests: {
        total: result.requests.total,
        perSecond,
        imagesPerSecond: round2(perSecond * options.imagesPerRequest),
      },
      latencyMs: {
        p50: result.latency.p50,
        p90: result.latency.p90,
        p99: result.latency.p99,
        max: result.latency.max,
        mean: round2(result.latency.mean),
      },
      errors: {
        non2xx: result.non2xx,
        socket: result.errors - result.timeouts,
        timeouts: result.timeouts,
        total: failed,
        statusCodes,
      },
      memory: { start, end, samples: samples.sort((a, b) => a.atSeconds - b.atSeconds) },
      bounds: options.bounds,
      verdict: judge(start, end, failed, options.bounds),
    };
  } catch (error) {
    if (api) log(`api output:\n${api.output().slice(-4000)}`);
    throw error;
  } finally {
    await api?.stop();
    await redis.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** A registered model directory, as a finished job leaves it. */
async function writeModel(dir: string, options: SoakOptions): Promise<void> {
  await selectBackend('auto');
  const artifact = await writeModelArtifact(dir, {
    imageSize: options.imageSize,
    classes: Array.from({ length: 10 }, (_, i) => `class-${i}`),
  });
  artifact.model.dispose();
  if (options.engine === 'onnxruntime') await exportArtifactToOnnx(dir);
  const registration = { id: modelId, jobId: 'job-soak', datasetId: 'ds-soak', createdAt: new Date().toISOString() };
  await fs.writeFile(path.join(dir, registrationFileName), JSON.stringify(registration));
}

/** A 640×480 JPEG with gradients, edges and noise, so decoding and resizing cost what a photo's would. */
async function cameraLikeJpeg(): Promise<Buffer> {
  const [width, height] = [640, 480];
  const raw = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed >> 16) % 24;
      const i = (y * width + x) * 3;
      const inDisc = (x - 320) ** 2 + (y - 240) ** 2 < 150 ** 2;
      raw[i] = (inDisc ? 200 : (x * 255) / width) + noise;
      raw[i + 1] = (inDisc ? 60 : (y * 255) / height) + noise;
      raw[i + 2] = (inDisc ? 40 : 128) + noise;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 88 })
    .toBuffer();
}

function multipartBody(boundary: string, images: Buffer[]): Buffer {
  const parts = images.flatMap((image, i) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="image-${i}.jpg"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    ),
    image,
    Buffer.from('\r\n'),
  ]);
  return Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]);
}

interface ApiProcess {
  base: string;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `start:api` as an operator runs it, on a free loopback port; resolves once /ready answers 200. */
async function startApi(dataDir: string, redisUrl: string, options: SoakOptions): Promise<ApiProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: 'soak',
    DATA_DIR: dataDir,
    TF_BACKEND: options.tfBackend,
    LOG_LEVEL: 'warn',
  };
  delete env.NODE_TEST_CONTEXT;
  delete env.API_KEYS;
  if (options.engine === 'tfjs') env.INFERENCE_ENGINE = 'tfjs';
  else delete env.INFERENCE_ENGINE;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit');
  const api: ApiProcess = {
    base: `http://127.0.0.1:${port}`,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the api exited (${child.exitCode}):\n${output.slice(-4000)}`);
    const status = await fetch(`${api.base}/ready`).then(
      (res) => res.status,
      () => 0,
    );
    if (status === 200) return api;
    if (Date.now() > deadline) {
      await api.stop();
      throw new Error(`the api was not ready within 120 s (last status ${status}):\n${output.slice(-4000)}`);
    }
    await sleep(200);
  }
}
