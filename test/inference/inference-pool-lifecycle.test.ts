import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackendPreference } from '../../src/compute/backend.js';
import {
  InferencePoolClosedError,
  InferenceWorkerCrashedError,
  InferenceWorkerStartError,
} from '../../src/inference/inference-errors.js';
import { InferencePool, type BatchEvent } from '../../src/inference/inference-pool.js';
import { encodeSolid, type Rgb } from '../helpers/image-fixtures.js';
import { descendantsOf, isAlive } from '../helpers/process-tree.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { tempDir } from '../helpers/temp-dir.js';
import { writeModelArtifact } from './model-artifact-fixture.js';

const backend = (process.env.TEST_TF_BACKEND ?? 'wasm') as BackendPreference;

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('a killed child fails only its in-flight requests (503), is restarted, and queued work is not lost', async (t) => {
  await useTestBackend();
  const artifact = await writeModelArtifact(path.join(await tempDir(t), 'model'), {
    imageSize: 32,
    classes: ['a', 'b'],
  });
  artifact.model.dispose();
  const image = await encodeSolid([200, 40, 40]);
  const log = { info: () => {}, warn: () => {}, error: () => {} };
  const pool = new InferencePool({ backend, maxWaitMs: 1, pipelineDepth: 1, log });
  t.after(() => pool.close());
  await pool.start();
  const request = () => pool.predict({ modelId: 'm', artifactDir: artifact.dir, images: [image] });

  const firstPid = pool.stats().workers[0]!.pid!;
  // The first request loads the model, so it is still in the child when the child is killed.
  const inFlight = request();
  await until(() => pool.stats().workers[0]!.inflightBatches === 1, 'the batch to be dispatched');
  // pipelineDepth 1: this one waits in the parent's queue while the child holds the first.
  const queued = request();
  process.kill(firstPid, 'SIGKILL');

  await assert.rejects(inFlight, (error: unknown) => {
    assert.ok(error instanceof InferenceWorkerCrashedError);
    assert.equal(error.status, 503);
    assert.equal(error.exit.signal, 'SIGKILL');
    assert.match(error.message, /SIGKILL/);
    return true;
  });
  const answer = await queued;
  assert.equal(answer.predictions.length, 1);
  const stats = pool.stats();
  assert.equal(stats.restarts, 1);
  assert.notEqual(stats.workers[0]!.pid, firstPid);
  assert.equal(isAlive(firstPid), false);
  assert.equal((await request()).predictions[0]!.label, answer.predictions[0]!.label);
});

test('close() ends every child, fails pending requests, and is idempotent', async (t) => {
  await useTestBackend();
  const artifact = await writeModelArtifact(path.join(await tempDir(t), 'model'), {
    imageSize: 32,
    classes: ['a', 'b'],
  });
  artifact.model.dispose();
  const pool = new InferencePool({ backend, size: 2, maxWaitMs: 1 });
  await pool.start();
  const pids = pool.stats().workers.map((w) => w.pid!);
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.ok(descendantsOf(process.pid).includes(pid));

  const image = await encodeSolid([10, 200, 10]);
  const pending = assert.rejects(
    pool.predict({ modelId: 'm', artifactDir: artifact.dir, images: [image] }),
    InferencePoolClosedError,
  );
  await Promise.all([pool.close(), pool.close()]);
  await pending;
  await pool.close();
  for (const pid of pids) assert.equal(isAlive(pid), false, `child ${pid} still runs`);
  assert.deepEqual(
    descendantsOf(process.pid).filter((pid) => pids.includes(pid)),
    [],
  );
  assert.equal(pool.stats().state, 'closed');
  await assert.rejects(
    pool.predict({ modelId: 'm', artifactDir: artifact.dir, images: [image] }),
    InferencePoolClosedError,
  );
});

test('start() fails with InferenceWorkerStartError when the backend cannot load, leaving no child', async () => {
  const pool = new InferencePool({ backend: 'node' }); // tfjs-node is not installed here
  await assert.rejects(pool.start(), (error: unknown) => {
    assert.ok(error instanceof InferenceWorkerStartError);
    assert.match(error.message, /node/);
    return true;
  });
  assert.equal(pool.stats().state, 'closed');
  assert.deepEqual(
    pool.stats().workers.map((w) => w.pid),
    [undefined],
  );
});

test("the parent's event loop stays responsive while a child runs a slow batch", async (t) => {
  await useTestBackend();
  const artifact = await writeModelArtifact(path.join(await tempDir(t), 'model'), {
    imageSize: 224,
    classes: ['a', 'b', 'c'],
    calibrate: false,
  });
  artifact.model.dispose();
  const colours: Rgb[] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => [i * 30, 255 - i * 30, 128]);
  const images = await Promise.all(colours.map((rgb) => encodeSolid(rgb, { width: 64 })));
  const batches: BatchEvent[] = [];
  const pool = new InferencePool({ backend, maxBatchSize: 8, onBatch: (e) => batches.push(e) });
  t.after(() => pool.close());
  await pool.start();
  // Load the model first, so the measured batch is pure decoding and inference.
  await pool.predict({ modelId: 'big', artifactDir: artifact.dir, images: images.slice(0, 1) });

  // Sample every 5 ms how long a setImmediate takes to run: a busy loop would only compete for the CPU.
  const latencies: number[] = [];
  const sampler = setInterval(() => {
    const queued = performance.now();
    setImmediate(() => latencies.push(performance.now() - queued));
  }, 5);
  const answer = pool.predict({ modelId: 'big', artifactDir: artifact.dir, images });
  await answer.finally(() => clearInterval(sampler));
  const worstMs = Math.max(...latencies);
  assert.equal((await answer).predictions.length, 8);
  const batch = batches.at(-1)!;
  assert.equal(batch.size, 8);
  assert.ok(batch.timings!.runMs > 150, `the batch took only ${batch.timings!.runMs} ms: nothing was measured`);
  t.diagnostic(`worst setImmediate ${worstMs.toFixed(1)} ms during a ${batch.timings!.runMs.toFixed(0)} ms batch`);
  assert.ok(latencies.length > 10, `only ${latencies.length} samples`);
  assert.ok(worstMs < 100, `setImmediate waited ${worstMs.toFixed(1)} ms (${latencies.length} samples)`);
});
