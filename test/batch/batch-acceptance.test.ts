import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { compareCodePoints } from '../../src/data/dataset-directory.js';
import { tempDir } from '../helpers/temp-dir.js';
import {
  copyImages,
  download,
  parseJsonl,
  postArchive,
  readNpy,
  startBatchStack,
  waitForBatchJob,
  writeNoiseImages,
} from './batch-fixtures.js';

interface ManifestRow {
  row: number;
  path: string;
  class: string | null;
}

/**
 * Bound on the processor's peak RSS growth from a 500-image job to a 2,000-image one (same child, same model).
 * Measured: 1–6 MiB. Holding the 1,500 extra images (12 KB noise PNGs: 18 MiB) or their feature rows as JS
 * numbers (1,500 × 1280 × 8 B = 15 MiB) would exceed it.
 */
const rssGrowthBound = 12 * 2 ** 20;

test('a batch job: 500 images in manifest order, features equal to /features; RSS flat from 500 to 2,000', async (t) => {
  const { url, modelId } = await startBatchStack(t);
  // 64 px noise PNGs (decoded to the model's 32 px) in four class folders; the large set is four copies.
  const smallDir = await tempDir(t);
  const classes = ['a', 'b', 'c', 'd'];
  const files = await writeNoiseImages(smallDir, { count: 500, size: 64, folders: classes, seed: 7 });
  const largeDir = await tempDir(t);
  await copyImages(smallDir, files, largeDir, 4);
  const created = await postArchive(t, url, modelId, smallDir, { normalize: 'l2' });
  assert.equal(created.status, 202, await created.clone().text());
  const { id } = (await created.json()) as { id: string };
  assert.equal(created.headers.get('location'), `/v1/batch-jobs/${id}`);
  const job = await waitForBatchJob(url, id);
  assert.equal(job.status, 'completed', JSON.stringify(job));
  assert.deepEqual(
    { rows: job.rows, total: job.total, processed: job.processed, skipped: job.skipped, progress: job.progress },
    { rows: 500, total: 500, processed: 500, skipped: 0, progress: 1 },
  );
  assert.equal(job.resultUrl, `/v1/batch-jobs/${id}/result`);
  assert.deepEqual([...job.files].sort(), ['features.npy', 'manifest.jsonl', 'result.json', 'skipped.jsonl']);

  // Row count and order: one manifest line per npy row, in the order training reads a dataset (class folders
  // sorted, files in code point order), each with its class.
  const manifest = parseJsonl<ManifestRow>(await (await download(`${url}${job.resultUrl}/manifest.jsonl`)).text());
  const npy = readNpy(new Uint8Array(await (await download(`${url}${job.resultUrl}/features.npy`)).arrayBuffer()));
  assert.deepEqual(npy.shape, [500, 1280]);
  assert.equal(manifest.length, npy.shape[0]);
  const expected = files
    .map((file) => ({ path: file, class: file.split('/')[0]! }))
    .sort((a, b) => compareCodePoints(a.path, b.path));
  assert.deepEqual(
    manifest.map((m) => ({ path: m.path, class: m.class })),
    expected,
  );
  manifest.forEach((m, i) => assert.equal(m.row, i));

  // Features: every 10th row equals what /features?normalize=l2 answers for the same file (sent in batches of 50).
  const sample = manifest.filter((_, i) => i % 10 === 0);
  let worst = 0;
  for (let start = 0; start < sample.length; start += 25) {
    const part = sample.slice(start, start + 25);
    const form = new FormData();
    for (const m of part) form.append('file', new Blob([await readFile(path.join(smallDir, m.path))]), m.path);
    const answer = await fetch(`${url}/v1/models/${modelId}/features?normalize=l2`, { method: 'POST', body: form });
    assert.equal(answer.status, 200, await answer.clone().text());
    const { features } = (await answer.json()) as { features: number[][] };
    part.forEach((m, k) => {
      const row = npy.data.subarray(m.row * 1280, (m.row + 1) * 1280);
      features[k]!.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - row[j]!))));
    });
  }
  assert.ok(worst < 1e-5, `batch features differ from /features by up to ${worst}`);
  // Rows differ from one another, so a row-order mistake could not pass the check above.
  assert.ok(npy.data.subarray(0, 1280).some((v, j) => Math.abs(v - npy.data[1280 + j]!) > 1e-3));

  // Memory: the same job over four times the images, in the same processor.
  const second = await postArchive(t, url, modelId, largeDir, { normalize: 'l2' });
  assert.equal(second.status, 202, await second.clone().text());
  const bigJob = await waitForBatchJob(url, ((await second.json()) as { id: string }).id);
  assert.equal(bigJob.status, 'completed', JSON.stringify(bigJob));
  assert.equal(bigJob.rows, 2000);
  const growth = bigJob.peakRssBytes! - job.peakRssBytes!;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  t.diagnostic(`processor peak RSS: ${mib(job.peakRssBytes!)} at 500 images, ${mib(bigJob.peakRssBytes!)} at 2,000`);
  assert.ok(growth < rssGrowthBound, `peak RSS grew by ${mib(growth)} from 500 to 2,000 images`);
});
