import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { zipDirectory } from '../data/archive-fixtures.js';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { descendantsOf, isAlive } from '../helpers/process-tree.js';
import { testRedis } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/temp-dir.js';
import { repoRoot } from './dockerfile.js';

/**
 * What the images run: `npm run build` into a fresh directory, then the compiled api and worker with plain node
 * (no tsx, no source tree beside them), on a throwaway Redis. One tiny training job proves the worker's
 * sandboxed processor starts from dist/ and the ONNX export finds its schema there.
 */

const run = promisify(execFile);

interface Service {
  child: ChildProcess;
  output: () => string;
}

function start(entry: string, cwd: string, env: Record<string, string>): Service {
  // A clean environment, as in a container: nothing inherited from the test runner or tsx.
  const child = spawn(process.execPath, [entry], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

async function waitFor<T>(what: string, service: Service, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (service.child.exitCode !== null) throw new Error(`exited before ${what}:\n${service.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${service.output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGTERM, as `docker stop` sends it; resolves with the exit code. */
async function stop(service: Service, timeoutMs: number): Promise<number | null> {
  if (service.child.exitCode !== null) return service.child.exitCode;
  const exited = new Promise<number | null>((resolve) => service.child.once('exit', (code) => resolve(code)));
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

async function healthcheck(script: string, env: Record<string, string>): Promise<number> {
  try {
    await run(process.execPath, [path.join(repoRoot, 'docker', script)], { env: { PATH: '', ...env } });
    return 0;
  } catch (error) {
    return Number((error as { code?: number }).code ?? 1);
  }
}

test('npm run build gives a dist/ whose api, worker and training processor run with plain node', async (t) => {
  // The layout of the image's /app: package.json, node_modules, dist/. No src/ beside it.
  const app = await tempDir(t, 'effnet-build-');
  const started = Date.now();
  await run('npm', ['run', 'build', '--', '--outDir', path.join(app, 'dist')], { cwd: repoRoot });
  const buildMs = Date.now() - started;
  t.diagnostic(`npm run build: ${buildMs} ms`);
  await fs.copyFile(path.join(repoRoot, 'package.json'), path.join(app, 'package.json'));
  await fs.symlink(path.join(repoRoot, 'node_modules'), path.join(app, 'node_modules'), 'dir');
  for (const file of ['dist/src/server.js', 'dist/workers/training-worker.js', 'dist/workers/training-processor.js']) {
    assert.ok(existsSync(path.join(app, file)), `npm run build wrote ${file}`);
  }
  // tsc emits no .proto; without it beside the compiled module the ONNX export fails at run time.
  assert.ok(existsSync(path.join(app, 'dist/src/onnx/onnx.proto')), 'npm run build copies src/onnx/onnx.proto');

  const redis = await testRedis();
  const data = await tempDir(t, 'effnet-data-');
  const heartbeat = path.join(data, 'worker.heartbeat');
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `deploy-${randomUUID()}`,
    DATA_DIR: data,
    TF_BACKEND: process.env.TEST_TF_BACKEND ?? 'auto',
    LOG_LEVEL: 'info',
  };
  const api = start('dist/src/server.js', app, { ...env, HOST: '127.0.0.1', PORT: '0' });
  const worker = start('dist/workers/training-worker.js', app, { ...env, WORKER_HEARTBEAT_FILE: heartbeat });
  t.after(async () => {
    await Promise.all([stop(api, 5000), stop(worker, 5000)]);
  });

  const base = await waitFor(
    'the api to listen',
    api,
    () => /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(api.output())?.[1],
    60_000,
  );
  await waitFor(
    'the worker',
    worker,
    () => (worker.output().includes('training worker ready') ? true : undefined),
    60_000,
  );

  const ready = await fetch(`${base}/ready`);
  assert.equal(ready.status, 200, await ready.clone().text());
  assert.equal(((await ready.json()) as { redis: string }).redis, 'ok');
  const port = new URL(base).port;
  assert.equal(await healthcheck('api-healthcheck.mjs', { PORT: port }), 0, 'the image HEALTHCHECK passes');
  await waitFor('a heartbeat', worker, () => (existsSync(heartbeat) ? true : undefined), 15_000);
  assert.equal(await healthcheck('worker-healthcheck.mjs', { WORKER_HEARTBEAT_FILE: heartbeat }), 0);

  // The smallest real job: the processor is forked from dist/workers/training-processor.js by BullMQ.
  const shapes = path.join(data, 'upload');
  await writeShapesDataset(path.join(shapes, 'shapes'), { classes: 2, perClass: 3, size: 32, seed: 5, layout: 'flat' });
  await zipDirectory(path.join(shapes, 'shapes'), path.join(shapes, 'shapes.zip'));
  const form = new FormData();
  form.append('file', new Blob([await fs.readFile(path.join(shapes, 'shapes.zip'))]), 'shapes.zip');
  const upload = await fetch(`${base}/v1/datasets`, { method: 'POST', body: form });
  assert.equal(upload.status, 201, await upload.clone().text());
  const { id: datasetId } = (await upload.json()) as { id: string };
  const created = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      datasetId,
      architecture: 'efficientnet-b0',
      weights: 'none',
      imageSize: 32,
      augmentation: false,
      head: { epochs: 1, batchSize: 6 },
      finetune: false,
    }),
  });
  assert.equal(created.status, 202, await created.clone().text());
  const { id: jobId } = (await created.json()) as { id: string };
  let job: { status: string; modelId: string | null; error: string | null } | undefined;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    job = (await (await fetch(`${base}/v1/jobs/${jobId}`)).json()) as typeof job;
    if (job!.status === 'completed' || job!.status === 'failed') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.equal(job?.status, 'completed', `${job?.error}\n${worker.output().slice(-4000)}`);
  const model = (await (await fetch(`${base}/v1/models/${job!.modelId}`)).json()) as { formats: string[] };
  assert.ok(model.formats.includes('onnx'), 'the ONNX export found dist/src/onnx/onnx.proto');

  // docker stop: both exit cleanly, leaving no child process (inference pool, sandboxed processor) behind.
  const children = [...descendantsOf(api.child.pid!), ...descendantsOf(worker.child.pid!)];
  assert.equal(await stop(worker, 20_000), 0, worker.output().slice(-2000));
  assert.equal(await stop(api, 20_000), 0, api.output().slice(-2000));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(
    children.filter((pid) => isAlive(pid)),
    [],
    'child processes outlived their parent',
  );
  assert.ok(!existsSync(heartbeat), 'a stopped worker removes its heartbeat');
});
