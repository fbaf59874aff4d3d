import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { test } from 'node:test';
import { parquetReadObjects } from 'hyparquet';
import { Parser } from 'tar';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import {
  copyImages,
  download,
  getBatchJob,
  parseJsonl,
  postArchive,
  postJson,
  readNpy,
  startBatchStack,
  uploadDataset,
  waitForBatchJob,
  writeNoiseImages,
} from './batch-fixtures.js';
import { startInferenceWorkerProcess } from '../helpers/worker-process.js';

interface Prediction {
  label: string;
  probability: number;
  topK: Array<{ label: string; probability: number }>;
}

async function tarEntries(bytes: ArrayBuffer): Promise<string[]> {
  const names: string[] = [];
  const parser = new Parser({
    onReadEntry: (entry) => {
      names.push(entry.path);
      entry.resume();
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.end(Buffer.from(bytes));
  });
  return names.sort();
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

test('batch jobs over HTTP with a real inference worker', async (t) => {
  const stack = await startBatchStack(t);
  const { url, modelId, classes, config } = stack;
  const images = await tempDir(t);

  await t.test('a dataset as jsonl with features and predictions equal to /features and /predict', async () => {
    const shapes = await writeShapesDataset(path.join(images, 'shapes'), { classes: 2, perClass: 6, size: 32 });
    const datasetId = await uploadDataset(t, url, shapes.root);
    const created = await postJson(`${url}/v1/models/${modelId}/batch`, {
      datasetId,
      output: 'both',
      format: 'jsonl',
      topK: 2,
    });
    assert.equal(created.status, 202, await created.clone().text());
    const job = await waitForBatchJob(url, ((await created.json()) as { id: string }).id);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.equal(job.source, 'dataset');
    assert.equal(job.datasetId, datasetId);
    assert.ok(job.peakRssBytes! > 0);
    const rows = parseJsonl<{ row: number; path: string; class: string; prediction: Prediction; features: number[] }>(
      await (await download(`${url}${job.resultUrl}/results.jsonl`)).text(),
    );
    const manifest = parseJsonl<{ row: number; path: string; class: string }>(
      await (await download(`${url}${job.resultUrl}/manifest.jsonl`)).text(),
    );
    assert.equal(rows.length, 12);
    assert.deepEqual(
      rows.map((r) => [r.row, r.path, r.class]),
      manifest.map((m) => [m.row, m.path, m.class]),
    );
    assert.deepEqual(new Set(manifest.map((m) => m.class)), new Set(shapes.classes));
    const form = new FormData();
    for (const r of rows) form.append('file', new Blob([await readFile(path.join(shapes.root, r.path))]), r.path);
    const predicted = await fetch(`${url}/v1/models/${modelId}/predict?topK=2`, { method: 'POST', body: form });
    const { predictions } = (await predicted.json()) as { predictions: Prediction[] };
    const featured = await fetch(`${url}/v1/models/${modelId}/features`, { method: 'POST', body: form });
    const { features } = (await featured.json()) as { features: number[][] };
    rows.forEach((r, i) => {
      assert.equal(r.prediction.label, predictions[i]!.label);
      assert.deepEqual(
        r.prediction.topK.map((s) => s.label),
        predictions[i]!.topK.map((s) => s.label),
      );
      assert.ok(Math.abs(r.prediction.probability - predictions[i]!.probability) < 1e-5);
      assert.equal(r.features.length, 1280);
      r.features.forEach((v, j) => assert.ok(Math.abs(v - features[i]![j]!) < 1e-4, `row ${i} feature ${j}`));
    });
    const summary = (await (await download(`${url}${job.resultUrl}/result.json`)).json()) as Record<string, unknown>;
    assert.deepEqual(summary.classes, classes);
    assert.equal(summary.rows, 12);
  });

  await t.test('an archive without class folders: class null, undecodable files skipped, npy rows fixed', async () => {
    const dir = path.join(images, 'loose');
    const written = await writeNoiseImages(dir, { count: 20, size: 40, folders: [''] });
    await writeFile(path.join(dir, 'broken.png'), (await readFile(path.join(dir, written[0]!))).subarray(0, 100));
    const created = await postArchive(t, url, modelId, dir, { output: 'both', format: 'npy' });
    assert.equal(created.status, 202, await created.clone().text());
    const job = await waitForBatchJob(url, ((await created.json()) as { id: string }).id);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.deepEqual([job.total, job.rows, job.skipped, job.source], [21, 20, 1, 'upload']);
    const manifest = parseJsonl<{ row: number; path: string; class: string | null }>(
      await (await download(`${url}${job.resultUrl}/manifest.jsonl`)).text(),
    );
    assert.deepEqual(
      manifest.map((m) => m.path),
      [...written].sort(),
    );
    assert.ok(manifest.every((m) => m.class === null));
    const skipped = parseJsonl<{ path: string; reason: string }>(
      await (await download(`${url}${job.resultUrl}/skipped.jsonl`)).text(),
    );
    assert.deepEqual(
      skipped.map((s) => s.path),
      ['broken.png'],
    );
    // The header was written for 21 rows and corrected to the 20 that were decoded.
    const featuresNpy = readNpy(
      new Uint8Array(await (await download(`${url}${job.resultUrl}/features.npy`)).arrayBuffer()),
    );
    const probabilities = readNpy(
      new Uint8Array(await (await download(`${url}${job.resultUrl}/probabilities.npy`)).arrayBuffer()),
    );
    assert.deepEqual(featuresNpy.shape, [20, 1280]);
    assert.deepEqual(probabilities.shape, [20, classes.length]);
    for (let i = 0; i < 20; i++) {
      const sum = probabilities.data.subarray(i * 3, i * 3 + 3).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `row ${i} probabilities sum to ${sum}`);
    }
    // The whole result as one tar; the uploaded images are gone once the job ended.
    const tar = await download(`${url}${job.resultUrl}`);
    assert.equal(tar.headers.get('content-type'), 'application/x-tar');
    assert.deepEqual(await tarEntries(await tar.arrayBuffer()), [
      'features.npy',
      'manifest.jsonl',
      'probabilities.npy',
      'result.json',
      'skipped.jsonl',
    ]);
    assert.deepEqual(await entries(path.join(config.dataDir, 'batch-jobs', job.id)), ['result']);
  });

  await t.test('parquet: one row per manifest line, with labels and features', async () => {
    const dir = path.join(images, 'parquet');
    await writeNoiseImages(dir, { count: 30, size: 32, folders: ['x', 'y'], seed: 5 });
    const created = await postArchive(t, url, modelId, dir, { output: 'both', format: 'parquet', normalize: 'l2' });
    const job = await waitForBatchJob(url, ((await created.json()) as { id: string }).id);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    const bytes = await (await download(`${url}${job.resultUrl}/results.parquet`)).arrayBuffer();
    const rows = (await parquetReadObjects({ file: bytes })) as Array<{
      row: number;
      path: string;
      class: string;
      label: string;
      topK: Prediction['topK'];
      features: number[];
    }>;
    const manifest = parseJsonl<{ row: number; path: string; class: string }>(
      await (await download(`${url}${job.resultUrl}/manifest.jsonl`)).text(),
    );
    assert.deepEqual(
      rows.map((r) => [r.row, r.path, r.class]),
      manifest.map((m) => [m.row, m.path, m.class]),
    );
    assert.ok(rows.every((r) => classes.includes(r.label) && r.topK.length === 3 && r.features.length === 1280));
    const norm = Math.hypot(...rows[0]!.features);
    assert.ok(Math.abs(norm - 1) < 1e-5, `normalized features have norm ${norm}`);
  });

  await t.test('cancel: a queued job at once, a running one within a batch; neither keeps anything', async () => {
    // 3,000 images, long enough (seconds) for the cancel to arrive while the job runs.
    const dir = path.join(images, 'many');
    const files = await writeNoiseImages(path.join(images, 'few'), { count: 250, size: 32, folders: [''], seed: 9 });
    await copyImages(path.join(images, 'few'), files, dir, 12);
    const first = await postArchive(t, url, modelId, dir, { format: 'jsonl', output: 'both' });
    const running = ((await first.json()) as { id: string }).id;
    const second = await postArchive(t, url, modelId, path.join(images, 'few'));
    const queued = ((await second.json()) as { id: string }).id;
    await waitForBatchJob(url, running, (job) => job.status === 'running' && job.processed > 0);
    assert.equal((await getBatchJob(url, queued)).status, 'queued');

    // A dataset that a queued batch job will read cannot be deleted from under it.
    const shapes = await writeShapesDataset(path.join(images, 'kept'), { classes: 2, perClass: 2, size: 16 });
    const datasetId = await uploadDataset(t, url, shapes.root);
    const onDataset = await postJson(`${url}/v1/models/${modelId}/batch`, { datasetId });
    const onDatasetId = ((await onDataset.json()) as { id: string }).id;
    const refused = await fetch(`${url}/v1/datasets/${datasetId}`, { method: 'DELETE' });
    assert.equal(refused.status, 409);
    assert.match(((await refused.json()) as { detail: string }).detail, new RegExp(onDatasetId));
    assert.equal((await fetch(`${url}/v1/batch-jobs/${onDatasetId}/cancel`, { method: 'POST' })).status, 202);
    assert.equal((await fetch(`${url}/v1/datasets/${datasetId}`, { method: 'DELETE' })).status, 204);

    const cancelQueued = await fetch(`${url}/v1/batch-jobs/${queued}/cancel`, { method: 'POST' });
    assert.equal(cancelQueued.status, 202);
    assert.equal(((await cancelQueued.json()) as { status: string }).status, 'cancelled');
    assert.deepEqual(await entries(path.join(config.dataDir, 'batch-jobs', queued)), []);

    const cancelRunning = await fetch(`${url}/v1/batch-jobs/${running}/cancel`, { method: 'POST' });
    assert.equal(cancelRunning.status, 202);
    const stopped = await waitForBatchJob(url, running, (job) => job.status !== 'running', 30_000);
    assert.equal(stopped.status, 'cancelled', JSON.stringify(stopped));
    assert.ok(stopped.processed < 3000, `stopped after ${stopped.processed} images`);
    assert.equal(stopped.resultUrl, null);
    const again = await fetch(`${url}/v1/batch-jobs/${running}/cancel`, { method: 'POST' });
    assert.equal(again.status, 409);
    const result = await fetch(`${url}/v1/batch-jobs/${running}/result`);
    assert.equal(result.status, 409);
    assert.match(result.headers.get('content-type') ?? '', /application\/problem\+json/);
    // The worker has dropped the queued job without running it.
    const dropped = await waitForBatchJob(url, queued, (job) => job.finishedAt !== null, 30_000);
    assert.equal(dropped.status, 'cancelled');
    assert.equal(dropped.rows, 0);
    for (const id of [running, queued])
      assert.deepEqual(await entries(path.join(config.dataDir, 'batch-jobs', id)), []);
    assert.deepEqual(await entries(path.join(config.dataDir, 'tmp')), []);
  });

  await t.test('a worker stopped mid-job hands it back; another worker runs it again from the start', async () => {
    const created = await postArchive(t, url, modelId, path.join(images, 'many'));
    const id = ((await created.json()) as { id: string }).id;
    await waitForBatchJob(url, id, (job) => job.status === 'running' && job.processed > 0);
    const exited = once(stack.worker.process, 'exit');
    stack.worker.process.kill('SIGTERM');
    await exited;
    const waiting = await getBatchJob(url, id);
    assert.equal(waiting.status, 'queued', JSON.stringify(waiting));
    assert.equal(waiting.files.length, 0);
    await startInferenceWorkerProcess(t, config);
    const job = await waitForBatchJob(url, id);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.deepEqual([job.rows, job.attempt], [3000, 2]);
    const manifest = parseJsonl<{ row: number }>(
      await (await download(`${url}${job.resultUrl}/manifest.jsonl`)).text(),
    );
    assert.deepEqual(
      manifest.map((m) => m.row),
      [...Array(3000).keys()],
    );
    assert.deepEqual(await entries(path.join(config.dataDir, 'batch-jobs', id)), ['result']);
  });

  await t.test('bad requests: problem+json, no job, nothing left on disk', async () => {
    const before = await entries(path.join(config.dataDir, 'batch-jobs'));
    const listed = async () =>
      ((await (await fetch(`${url}/v1/batch-jobs?limit=200`)).json()) as { total: number }).total;
    const jobsBefore = await listed();
    const loose = path.join(images, 'loose');
    const empty = path.join(images, 'empty');
    await mkdir(path.join(empty, 'docs'), { recursive: true });
    // A features-only model (a base model without its top): its metadata lists no classes.
    const notop = path.join(config.dataDir, 'models', 'mdl-notop');
    await cp(path.join(config.dataDir, 'models', modelId), notop, { recursive: true });
    const metadata = JSON.parse(await readFile(path.join(notop, 'metadata.json'), 'utf8')) as { classes: string[] };
    await writeFile(path.join(notop, 'metadata.json'), JSON.stringify({ ...metadata, classes: [] }));
    const registration = JSON.parse(await readFile(path.join(notop, 'registration.json'), 'utf8')) as object;
    await writeFile(path.join(notop, 'registration.json'), JSON.stringify({ ...registration, id: 'mdl-notop' }));
    await writeFile(path.join(empty, 'docs', 'readme.txt'), 'text only');
    const cases: Array<[string, () => Promise<Response>, number, RegExp]> = [
      [
        'unknown model',
        () => postJson(`${url}/v1/models/mdl-nope/batch`, { datasetId: 'ds-x' }),
        404,
        /model 'mdl-nope'/,
      ],
      [
        'unknown dataset',
        () => postJson(`${url}/v1/models/${modelId}/batch`, { datasetId: 'ds-nope' }),
        404,
        /dataset 'ds-nope'/,
      ],
      [
        'predictions of a model without classes',
        () => postJson(`${url}/v1/models/mdl-notop/batch`, { datasetId: 'ds-x', output: 'both' }),
        409,
        /no classes/,
      ],
      [
        'bad format',
        () => postJson(`${url}/v1/models/${modelId}/batch`, { datasetId: 'ds-x', format: 'csv' }),
        400,
        /format/,
      ],
      ['bad form format', () => postArchive(t, url, modelId, loose, { format: 'csv' }), 400, /format/],
      ['unknown form field', () => postArchive(t, url, modelId, loose, { colour: 'red' }), 400, /colour/],
      ['bad topK', () => postArchive(t, url, modelId, loose, { topK: '0' }), 400, /topK/],
      ['no images in the archive', () => postArchive(t, url, modelId, empty), 422, /no images/],
      [
        'not an archive',
        async () => {
          const form = new FormData();
          form.append('file', new Blob(['just text']), 'images.zip');
          return fetch(`${url}/v1/models/${modelId}/batch`, { method: 'POST', body: form });
        },
        422,
        /archive/i,
      ],
      ['unknown batch job', () => fetch(`${url}/v1/batch-jobs/batch-nope`), 404, /batch-nope/],
      ['result of an unknown job', () => fetch(`${url}/v1/batch-jobs/batch-nope/result`), 404, /batch-nope/],
      ['unknown result file', () => fetch(`${url}/v1/batch-jobs/batch-nope/result/secrets.txt`), 400, /file/],
    ];
    for (const [name, send, status, detail] of cases) {
      const response = await send();
      assert.equal(response.status, status, `${name}: ${await response.clone().text()}`);
      assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/, name);
      const problem = (await response.json()) as { detail?: string };
      assert.match(problem.detail ?? '', detail, name);
    }
    assert.deepEqual(await entries(path.join(config.dataDir, 'batch-jobs')), before);
    assert.deepEqual(await entries(path.join(config.dataDir, 'tmp')), []);
    assert.equal(await listed(), jobsBefore);
  });
});
