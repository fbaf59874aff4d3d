import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build } from '../helpers/build-app.js';
import { encodeSolid } from '../helpers/image-fixtures.js';
import { writeModelFixture } from '../helpers/model-fixture.js';

test('while a slow inference batch runs, /health still answers within 100 ms', async (t) => {
  const app = await build(t);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  // B0 at 224 px with 16 images: seconds of compute, all of it in the inference child process.
  const modelId = await writeModelFixture(app.config.dataDir, { imageSize: 224 });
  const image = (await encodeSolid([120, 60, 200], { width: 300, height: 300 })).toString('base64');
  const body = JSON.stringify({ instances: Array.from({ length: 16 }, () => ({ b64: image })) });
  const warm = await fetch(`${base}/v1/models/${modelId}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  assert.equal(warm.status, 200);

  const started = performance.now();
  const slow = fetch(`${base}/v1/models/${modelId}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const latencies: number[] = [];
  let slowDone = false;
  void slow.then(() => (slowDone = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  while (!slowDone && latencies.length < 40) {
    const t0 = performance.now();
    const res = await fetch(`${base}/health`);
    latencies.push(performance.now() - t0);
    assert.equal(res.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const slowMs = performance.now() - started;
  assert.equal((await slow).status, 200);
  assert.ok(latencies.length >= 3, `the batch took ${slowMs.toFixed(0)} ms; too fast to probe during it`);
  assert.ok(Math.max(...latencies) < 100, `/health latencies during the batch: ${latencies.map((l) => l.toFixed(1))}`);
});
