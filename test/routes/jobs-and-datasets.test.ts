import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { zipDirectory } from '../data/archive-fixtures.js';
import { build } from '../helpers/build-app.js';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';

async function uploadDataset(app: Awaited<ReturnType<typeof build>>, work: string) {
  await writeShapesDataset(path.join(work, 'set'), { classes: 2, perClass: 3, size: 16, seed: 4, layout: 'flat' });
  await zipDirectory(path.join(work, 'set'), path.join(work, 'set.zip'));
  const boundary = 'b0undary';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="set.zip"\r\n\r\n`),
    await fs.readFile(path.join(work, 'set.zip')),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/datasets',
    payload,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; name: string };
}

test('jobs: queue, list and filter, idempotency conflicts, cancel a queued job; datasets in use are kept', async (t) => {
  // No worker runs in this test: jobs stay queued until cancelled.
  const app = await build(t);
  const work = await tempDir(t);
  const dataset = await uploadDataset(app, work);
  assert.equal(dataset.name, 'set');
  const listed = (await app.inject('/v1/datasets')).json() as { datasets: Array<{ id: string }> };
  assert.deepEqual(
    listed.datasets.map((d) => d.id),
    [dataset.id],
  );

  const body = {
    datasetId: dataset.id,
    architecture: 'efficientnet-b0',
    weights: 'none',
    imageSize: 32,
    head: { epochs: 1 },
  };
  const first = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: body,
    headers: { 'idempotency-key': 'k1' },
  });
  assert.equal(first.statusCode, 202, first.body);
  assert.equal(first.headers.location, `/v1/jobs/${first.json().id}`);
  const reordered = {
    head: { epochs: 1 },
    imageSize: 32,
    weights: 'none',
    architecture: 'efficientnet-b0',
    datasetId: dataset.id,
  };
  const same = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: reordered,
    headers: { 'idempotency-key': 'k1' },
  });
  assert.equal(same.json().id, first.json().id, 'key order does not make it another request');
  const conflict = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: { ...body, head: { epochs: 2 } },
    headers: { 'idempotency-key': 'k1' },
  });
  assert.equal(conflict.statusCode, 409);
  assert.match(conflict.json().detail, /Idempotency-Key/);
  const second = await app.inject({ method: 'POST', url: '/v1/jobs', payload: body });
  assert.notEqual(second.json().id, first.json().id);

  const job = (await app.inject(`/v1/jobs/${first.json().id}`)).json();
  assert.equal(job.status, 'queued');
  assert.equal(job.datasetId, dataset.id);
  assert.equal(job.modelId, null);
  assert.deepEqual(job.history, []);

  const inUse = await app.inject({ method: 'DELETE', url: `/v1/datasets/${dataset.id}` });
  assert.equal(inUse.statusCode, 409);
  assert.match(inUse.json().detail, new RegExp(first.json().id));

  const cancelled = await app.inject({ method: 'POST', url: `/v1/jobs/${first.json().id}/cancel` });
  assert.equal(cancelled.statusCode, 202);
  assert.equal(cancelled.json().status, 'cancelled');
  const again = await app.inject({ method: 'POST', url: `/v1/jobs/${first.json().id}/cancel` });
  assert.equal(again.statusCode, 409);

  const page = (await app.inject('/v1/jobs?limit=1')).json();
  assert.equal(page.total, 2);
  assert.equal(page.jobs.length, 1);
  const queued = (await app.inject('/v1/jobs?status=queued')).json();
  assert.deepEqual(
    queued.jobs.map((j: { id: string }) => j.id),
    [second.json().id],
  );
  const cancelledList = (await app.inject('/v1/jobs?status=cancelled')).json();
  assert.deepEqual(
    cancelledList.jobs.map((j: { id: string }) => j.id),
    [first.json().id],
  );
  assert.equal((await app.inject('/v1/jobs?status=sideways')).statusCode, 400);

  // The other job still needs the dataset; once it is cancelled too, the dataset can go.
  assert.equal((await app.inject({ method: 'DELETE', url: `/v1/datasets/${dataset.id}` })).statusCode, 409);
  await app.inject({ method: 'POST', url: `/v1/jobs/${second.json().id}/cancel` });
  assert.equal((await app.inject({ method: 'DELETE', url: `/v1/datasets/${dataset.id}` })).statusCode, 204);
  assert.equal((await app.inject(`/v1/datasets/${dataset.id}`)).statusCode, 404);
  assert.deepEqual(await fs.readdir(path.join(app.config.dataDir, 'datasets')), []);
});
