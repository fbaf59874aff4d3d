import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import type { App } from '../../src/app.js';
import { writeRawTar, writeZip, zipDirectory } from '../data/archive-fixtures.js';
import { build } from '../helpers/build-app.js';
import { TEXT_FILE, encodeSolid, writeShapesDataset } from '../helpers/image-fixtures.js';
import { writeModelFixture } from '../helpers/model-fixture.js';
import { tempDir } from '../helpers/temp-dir.js';

let app: App;
let work: string;
let datasetId: string;
let modelId: string;

function multipart(file: Buffer, filename: string, fields: Record<string, string> = {}) {
  const boundary = '----effnet-test-boundary';
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${filename}"\r\n` +
        'content-type: application/octet-stream\r\n\r\n',
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

async function archiveOf(name: string, build: (file: string) => Promise<void>): Promise<Buffer> {
  const file = path.join(work, name);
  await build(file);
  return fs.readFile(file);
}

/** Everything under DATA_DIR except the model fixture, the dataset made in before() and empty tmp/. */
async function leftovers(): Promise<string[]> {
  const root = app.config.dataDir;
  const entries = (await fs.readdir(root, { recursive: true })).map(String);
  return entries
    .filter((e) => e !== 'tmp' && e !== 'models' && e !== 'datasets' && e !== 'weights')
    .filter((e) => !e.startsWith(`models${path.sep}${modelId}`) && !e.startsWith(`datasets${path.sep}${datasetId}`));
}

describe('bad inputs: each a 4xx problem+json, nothing left on disk', () => {
  const cleanups: Array<() => unknown> = [];
  const ctx = { after: (fn: () => unknown) => void cleanups.push(fn) };
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  before(async () => {
    app = await build(ctx);
    work = await tempDir(ctx);
    await writeShapesDataset(path.join(work, 'good'), { classes: 2, perClass: 3, size: 16, seed: 1, layout: 'flat' });
    const good = await archiveOf('good.zip', (f) => zipDirectory(path.join(work, 'good'), f));
    const res = await app.inject({ method: 'POST', url: '/v1/datasets', ...multipart(good, 'good.zip') });
    assert.equal(res.statusCode, 201, res.body);
    datasetId = res.json().id;
    modelId = await writeModelFixture(app.config.dataDir);
  });

  const uploads: Array<[string, () => Promise<Buffer>, number, RegExp]> = [
    ['a text file, not an archive', async () => TEXT_FILE, 422, /not a zip or tar archive/],
    [
      'a zip-slip entry',
      () => archiveOf('slip.zip', (f) => writeZip(f, [{ name: '../evil.png', data: 'x' }])),
      422,
      /\.\.|outside|unsafe/i,
    ],
    [
      'a symlink entry',
      () =>
        archiveOf('link.tar', (f) =>
          writeRawTar(f, [{ name: 'cats/a.png', type: 'symlink', linkname: '/etc/passwd' }]),
        ),
      422,
      /link/i,
    ],
    [
      'a one-class dataset',
      async () => {
        await writeShapesDataset(path.join(work, 'one'), {
          classes: 2,
          perClass: 2,
          size: 16,
          seed: 2,
          layout: 'flat',
        });
        const dirs = await fs.readdir(path.join(work, 'one'));
        await fs.rm(path.join(work, 'one', dirs[1]!), { recursive: true });
        return archiveOf('one.zip', (f) => zipDirectory(path.join(work, 'one'), f));
      },
      422,
      /at least 2 classes/,
    ],
    ['an empty archive', () => archiveOf('empty.zip', (f) => writeZip(f, [])), 422, /at least 2 classes.*found 0/],
  ];

  for (const [name, makeArchive, status, detail] of uploads) {
    test(`upload: ${name}`, async () => {
      const res = await app.inject({ method: 'POST', url: '/v1/datasets', ...multipart(await makeArchive(), 'x.zip') });
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
      assert.match(res.json().detail, detail);
      assert.deepEqual(await leftovers(), []);
      assert.deepEqual(await fs.readdir(path.join(app.config.dataDir, 'tmp')), []);
    });
  }

  const job = (patch: Record<string, unknown>) => ({
    datasetId,
    architecture: 'efficientnet-b0',
    weights: 'none',
    imageSize: 32,
    head: { epochs: 1 },
    ...patch,
  });
  const requests: Array<[string, () => InjectOptions, number, RegExp]> = [
    [
      'unknown architecture',
      () => ({ method: 'POST', url: '/v1/jobs', payload: job({ architecture: 'resnet50' }) }),
      400,
      /architecture/,
    ],
    [
      'unknown dataset',
      () => ({ method: 'POST', url: '/v1/jobs', payload: job({ datasetId: 'ds-nope' }) }),
      404,
      /dataset 'ds-nope'/,
    ],
    [
      'negative epochs',
      () => ({ method: 'POST', url: '/v1/jobs', payload: job({ head: { epochs: -1 } }) }),
      400,
      /epochs/,
    ],
    [
      'imagenet weights that are not there',
      () => ({ method: 'POST', url: '/v1/jobs', payload: job({ weights: 'imagenet' }) }),
      400,
      /efficientnetb0_notop\.h5/,
    ],
    [
      'unknown model',
      () => ({ method: 'POST', url: '/v1/models/mdl-nope/predict', payload: { instances: [{ b64: 'AAAA' }] } }),
      404,
      /model 'mdl-nope'/,
    ],
    [
      'garbage base64',
      () => ({
        method: 'POST',
        url: `/v1/models/${modelId}/predict`,
        payload: { instances: [{ b64: '%%% not base64 %%%' }] },
      }),
      400,
      /instances\[0\]: b64 is not valid base64/,
    ],
    [
      'a text file sent as an image',
      () => ({ method: 'POST', url: `/v1/models/${modelId}/predict`, ...multipart(TEXT_FILE, 'x.png') }),
      400,
      /instances\[0\]: not an image/,
    ],
    [
      'invalid JSON',
      () => ({
        method: 'POST',
        url: '/v1/jobs',
        payload: '{"datasetId":',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      /JSON/i,
    ],
    [
      'an empty image',
      () => ({ method: 'POST', url: `/v1/models/${modelId}/features`, payload: { instances: [{ b64: '' }] } }),
      400,
      /instances\[0\]: the image is empty/,
    ],
  ];

  for (const [name, request, status, detail] of requests) {
    test(`request: ${name}`, async () => {
      const res = await app.inject(request());
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
      assert.match(res.json().detail, detail);
      assert.deepEqual(await leftovers(), []);
    });
  }

  test('a bad image among good ones names its index', async () => {
    const good = (await encodeSolid([10, 200, 10])).toString('base64');
    const res = await app.inject({
      method: 'POST',
      url: `/v1/models/${modelId}/predict`,
      payload: { instances: [{ b64: good }, { b64: TEXT_FILE.toString('base64') }] },
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().detail, /instances\[1\]: not an image/);
  });
});
