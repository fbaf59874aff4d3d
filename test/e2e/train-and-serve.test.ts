import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { zipDirectory } from '../data/archive-fixtures.js';
import { testConfig } from '../helpers/build-app.js';
import { encodeSolid, writeShapesDataset } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startWorkerProcess } from '../helpers/worker-process.js';

interface JobView {
  id: string;
  status: string;
  phase: string | null;
  history: Array<{ phase: string; epoch: number }>;
  modelId: string | null;
  error: string | null;
}

/** Reads a server-sent event stream until `until` says stop; returns the events. */
async function readEvents(url: string, until: (event: string, data: JobView) => boolean, timeoutMs: number) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: Array<{ event: string; data: JobView }> = [];
  try {
    const res = await fetch(url, { signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body!) {
      buffer += decoder.decode(chunk, { stream: true });
      let split;
      while ((split = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, split);
        buffer = buffer.slice(split + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || !data) continue;
        const parsed = JSON.parse(data) as JobView;
        events.push({ event, data: parsed });
        if (until(event, parsed)) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

test('upload, train both phases on a worker, follow events, predict, features, artifact, cancel', async (t) => {
  const config = await testConfig(t);
  const app = await buildApp({ config, logger: false });
  t.after(() => app.close());
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const worker = await startWorkerProcess(t, config);

  // A small learnable dataset, zipped as a user would.
  const work = await tempDir(t);
  await writeShapesDataset(path.join(work, 'shapes'), { classes: 3, perClass: 8, size: 32, seed: 7, layout: 'flat' });
  await zipDirectory(path.join(work, 'shapes'), path.join(work, 'shapes.zip'));
  const form = new FormData();
  form.append('name', 'shapes');
  form.append('file', new Blob([await fs.readFile(path.join(work, 'shapes.zip'))]), 'shapes.zip');
  const upload = await fetch(`${base}/v1/datasets`, { method: 'POST', body: form });
  assert.equal(upload.status, 201, await upload.clone().text());
  const dataset = (await upload.json()) as { id: string; classes: Array<{ name: string; count: number }> };
  assert.equal(dataset.classes.length, 3);
  assert.deepEqual(
    dataset.classes.map((c) => c.count),
    [8, 8, 8],
  );

  const jobBody = {
    datasetId: dataset.id,
    architecture: 'efficientnet-b0',
    weights: 'none',
    imageSize: 32,
    augmentation: false,
    seed: 3,
    head: { epochs: 1, batchSize: 8 },
    finetune: { epochs: 1, batchSize: 8 },
  };
  const created = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'e2e-1' },
    body: JSON.stringify(jobBody),
  });
  assert.equal(created.status, 202, await created.clone().text());
  const { id: jobId } = (await created.json()) as { id: string };
  const again = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'e2e-1' },
    body: JSON.stringify(jobBody),
  });
  assert.equal(((await again.json()) as { id: string }).id, jobId, 'same Idempotency-Key and body: same job');

  const events = await readEvents(`${base}/v1/jobs/${jobId}/events`, (event) => event === 'end', 240_000);
  const last = events.at(-1)!.data;
  const final = (await (await fetch(`${base}/v1/jobs/${jobId}`)).json()) as JobView;
  assert.equal(final.status, 'completed', `${final.error} ${worker.output().slice(-3000)}`);
  assert.equal(last.status, 'completed');
  assert.ok(
    events.some((e) => e.event === 'epoch'),
    'epoch events were streamed',
  );
  assert.deepEqual(
    final.history.map((h) => `${h.phase}:${h.epoch}`),
    ['head:1', 'finetune:1'],
  );
  assert.ok(final.modelId);

  const model = (await (await fetch(`${base}/v1/models/${final.modelId}`)).json()) as {
    classes: string[];
    featureDim: number;
    imageSize: number;
    metrics: { confusionMatrix: number[][] };
    formats: string[];
  };
  assert.deepEqual(model.classes, [...dataset.classes.map((c) => c.name)]);
  assert.equal(model.featureDim, 1280);
  assert.equal(model.imageSize, 32);
  assert.equal(model.metrics.confusionMatrix.length, 3);
  assert.deepEqual(model.formats, ['tfjs', 'onnx'], 'the worker exported model.onnx');
  const onnx = await fetch(`${base}/v1/models/${final.modelId}/artifact?format=onnx`);
  assert.equal(onnx.status, 200);
  assert.ok((await onnx.arrayBuffer()).byteLength > 1_000_000);

  // Predict: multipart and b64 agree, probabilities sum to 1.
  const images = [await encodeSolid([220, 30, 30]), await encodeSolid([30, 30, 220], { format: 'jpeg' })];
  const multipart = new FormData();
  images.forEach((image, i) => multipart.append('file', new Blob([image]), `image-${i}.png`));
  const byFile = await fetch(`${base}/v1/models/${final.modelId}/predict?topK=2`, { method: 'POST', body: multipart });
  assert.equal(byFile.status, 200, await byFile.clone().text());
  const byB64 = await fetch(`${base}/v1/models/${final.modelId}/predict?topK=2`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: images.map((image) => ({ b64: image.toString('base64') })) }),
  });
  const a = (await byFile.json()) as { predictions: Array<{ label: string; topK: Array<{ probability: number }> }> };
  const b = (await byB64.json()) as typeof a;
  assert.deepEqual(a, b);
  assert.equal(a.predictions.length, 2);
  for (const prediction of a.predictions) {
    assert.equal(prediction.topK.length, 2);
    assert.ok(model.classes.includes(prediction.label));
  }
  const full = (await (
    await fetch(`${base}/v1/models/${final.modelId}/predict?topK=3`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [{ b64: images[0]!.toString('base64') }] }),
    })
  ).json()) as typeof a;
  const sum = full.predictions[0]!.topK.reduce((s, p) => s + p.probability, 0);
  assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);

  // Features: 1280-d, unit norm with l2.
  const features = (await (
    await fetch(`${base}/v1/models/${final.modelId}/features?normalize=l2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: images.map((image) => ({ b64: image.toString('base64') })) }),
    })
  ).json()) as { dim: number; features: number[][] };
  assert.equal(features.dim, 1280);
  assert.equal(features.features.length, 2);
  for (const vector of features.features) {
    assert.equal(vector.length, 1280);
    assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-4);
  }

  // Artifact: a .tar.gz holding the tfjs model and its metadata.
  const artifact = await fetch(`${base}/v1/models/${final.modelId}/artifact`);
  assert.equal(artifact.status, 200);
  const tarBytes = gunzipSync(Buffer.from(await artifact.arrayBuffer())).toString('latin1');
  assert.match(tarBytes, /model\.json/);
  assert.match(tarBytes, /metadata\.json/);

  // A second, longer job is cancelled mid-training: status cancelled, no model.
  const long = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...jobBody, head: { epochs: 50, batchSize: 4 }, finetune: false }),
  });
  const { id: longId } = (await long.json()) as { id: string };
  await readEvents(`${base}/v1/jobs/${longId}/events`, (_e, data) => data.status === 'running', 120_000);
  const cancel = await fetch(`${base}/v1/jobs/${longId}/cancel`, { method: 'POST' });
  assert.equal(cancel.status, 202);
  const endEvents = await readEvents(`${base}/v1/jobs/${longId}/events`, (event) => event === 'end', 60_000);
  assert.equal(endEvents.at(-1)!.data.status, 'cancelled');
  const cancelled = (await (await fetch(`${base}/v1/jobs/${longId}`)).json()) as JobView;
  assert.equal(cancelled.status, 'cancelled');
  assert.ok(cancelled.history.length < 50, 'it stopped long before its 50 epochs');
  assert.equal(cancelled.modelId, null);
  const models = (await (await fetch(`${base}/v1/models`)).json()) as { models: Array<{ jobId: string }> };
  assert.deepEqual(
    models.models.map((m) => m.jobId),
    [jobId],
  );
});
