import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { buildApp, type App } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { exportArtifactToOnnx } from '../../src/onnx/export-artifact-onnx.js';
import type { BatchJob } from '../../src/schemas/batch-jobs.js';
import { testConfig } from '../helpers/build-app.js';
import { writeModelFixture } from '../helpers/model-fixture.js';
import { tempDir } from '../helpers/temp-dir.js';
import sharp from 'sharp';
import { tarDirectory, zipDirectory } from '../helpers/image-fixtures.js';
import { startInferenceWorkerProcess } from '../helpers/worker-process.js';

export interface BatchStack {
  config: Config;
  app: App;
  /** http://127.0.0.1:<port> of the listening api. */
  url: string;
  modelId: string;
  classes: string[];
  worker: Awaited<ReturnType<typeof startInferenceWorkerProcess>>;
}

/**
 * The api listening on a free port, a real inference worker process and a registered B0 at 32 px with its
 * model.onnx (so /features and the batch job run on the same engine), all on one throwaway Redis and DATA_DIR.
 */
export async function startBatchStack(
  t: Pick<TestContext, 'after'>,
  env: Record<string, string> = {},
): Promise<BatchStack> {
  const config = await testConfig(t, env);
  const classes = ['circle', 'square', 'triangle'];
  // The worker process starts (and compiles) while this process builds the model.
  const starting = startInferenceWorkerProcess(t, config, env);
  const modelId = await writeModelFixture(config.dataDir, { id: 'mdl-batch', imageSize: 32, classes });
  await exportArtifactToOnnx(path.join(config.dataDir, 'models', modelId));
  const app = await buildApp({ config, logger: false });
  t.after(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  const worker = await starting;
  return { config, app, url: `http://127.0.0.1:${address.port}`, modelId, classes, worker };
}

/** Uploads a folder as a zip dataset; returns its id. */
export async function uploadDataset(t: Pick<TestContext, 'after'>, url: string, dir: string): Promise<string> {
  const zip = path.join(await tempDir(t, 'effnet-zip-'), 'dataset.zip');
  await zipDirectory(dir, zip);
  const form = new FormData();
  form.append('file', new Blob([await readFile(zip)]), 'dataset.zip');
  const response = await fetch(`${url}/v1/datasets`, { method: 'POST', body: form });
  assert.equal(response.status, 201, await response.clone().text());
  return ((await response.json()) as { id: string }).id;
}

/** Zips a folder and starts a batch job on it, with `fields` as the form's options. */
export async function postArchive(
  t: Pick<TestContext, 'after'>,
  url: string,
  modelId: string,
  dir: string,
  fields: Record<string, string> = {},
): Promise<Response> {
  const archive = path.join(await tempDir(t, 'effnet-archive-'), 'images');
  // Both formats the api takes: zip for small folders, plain tar (faster to build) for large ones.
  const zip = (await listImages(dir)).length < 1000;
  await (zip ? zipDirectory(dir, archive) : tarDirectory(dir, archive));
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('file', new Blob([await readFile(archive)]), zip ? 'images.zip' : 'images.tar');
  return fetch(`${url}/v1/models/${modelId}/batch`, { method: 'POST', body: form });
}

/**
 * Writes `count` distinct noisy PNGs (`size` px, about 3 bytes per pixel: noise does not compress) into
 * `dir/<folder>/img-NNNN.png`, cycling through `folders` ('' for no folder); returns the relative paths.
 */
export async function writeNoiseImages(
  dir: string,
  options: { count: number; size: number; folders: string[]; seed?: number },
): Promise<string[]> {
  let state = options.seed ?? 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const paths: string[] = [];
  for (let i = 0; i < options.count; i++) {
    const folder = options.folders[i % options.folders.length]!;
    const pixels = Buffer.alloc(options.size * options.size * 3);
    for (let j = 0; j < pixels.length; j += 4) pixels.writeUInt32LE(next(), Math.min(j, pixels.length - 4));
    const rel = folder ? `${folder}/img-${String(i).padStart(4, '0')}.png` : `img-${String(i).padStart(4, '0')}.png`;
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    const raw = { width: options.size, height: options.size, channels: 3 as const };
    await writeFile(path.join(dir, rel), await sharp(pixels, { raw }).png({ compressionLevel: 1 }).toBuffer());
    paths.push(rel);
  }
  return paths;
}

/** `times` copies of every file of `from` (relative paths), under `to/copy-N/`: many files, little work. */
export async function copyImages(from: string, files: string[], to: string, times: number): Promise<void> {
  for (let n = 0; n < times; n++) {
    for (const rel of files) {
      const target = path.join(to, `copy-${n}`, rel);
      await mkdir(path.dirname(target), { recursive: true });
      await copyFile(path.join(from, rel), target);
    }
  }
}

async function listImages(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.png') || f.endsWith('.jpg'));
}

export async function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export async function getBatchJob(url: string, id: string): Promise<BatchJob> {
  const response = await fetch(`${url}/v1/batch-jobs/${id}`);
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as BatchJob;
}

/** Polls a batch job until `done` holds (default: it ended); fails after `timeoutMs`. */
export async function waitForBatchJob(
  url: string,
  id: string,
  done: (job: BatchJob) => boolean = (job) => ['completed', 'failed', 'cancelled'].includes(job.status),
  timeoutMs = 90_000,
): Promise<BatchJob> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getBatchJob(url, id);
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`batch job ${id} still ${job.status}: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A minimal .npy reader (v1/v2, little-endian float32, C order): enough to check what numpy.load would see. */
export function readNpy(bytes: Uint8Array): { shape: number[]; data: Float32Array } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.deepEqual([...buffer.subarray(0, 6)], [0x93, ...Buffer.from('NUMPY')], 'npy magic');
  const major = buffer[6]!;
  const headerLength = major === 1 ? buffer.readUInt16LE(8) : buffer.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLength;
  assert.equal(start % 64, 0, 'data starts 64-byte aligned');
  const header = buffer.subarray(major === 1 ? 10 : 12, start).toString('latin1');
  assert.match(header, /'descr': '<f4'/);
  assert.match(header, /'fortran_order': False/);
  assert.ok(header.endsWith('\n'));
  const shape = /'shape': \((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number);
  const count = shape[0]! * shape[1]!;
  assert.equal(buffer.length - start, count * 4, 'data length matches the shape');
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buffer.readFloatLE(start + i * 4);
  return { shape, data };
}

export function parseJsonl<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);
}

export async function download(url: string): Promise<Response> {
  const response = await fetch(url);
  assert.equal(response.status, 200, await response.clone().text());
  return response;
}
