import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { buildApp } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { writeRawTar, writeZip, type RawTarEntry, type ZipFixtureEntry } from '../data/archive-fixtures.js';
import { testConfig } from '../helpers/build-app.js';
import {
  TEXT_FILE,
  encode16BitPng,
  encodeAnimated,
  encodeCmykJpeg,
  encodeExifRotatedJpeg,
  encodeSolid,
  writeShapesDataset,
} from '../helpers/image-fixtures.js';
import { writeModelFixture } from '../helpers/model-fixture.js';
import { tempDir } from '../helpers/temp-dir.js';
import { pngClaiming, tarGzBomb, zipBomb } from './hostile-fixtures.js';

/**
 * Hostile and broken input, one table row per case, over real HTTP against the real app and a real Redis.
 * Every row states what is sent and what must come back: a 4xx problem+json whose detail names the reason, or,
 * for unusual but valid input, exactly how it was accepted. After every row the app still answers /health,
 * DATA_DIR holds nothing new but a fully committed dataset (when the row accepts one), DATA_DIR/tmp is empty, and
 * nothing appeared beside DATA_DIR (the zip-slip, absolute-path and link targets point there).
 */

interface Sent {
  path: string;
  init: RequestInit;
}

interface Dataset {
  id: string;
  name: string;
  classes: Array<{ name: string; count: number }>;
  images: number;
  skipped: Array<{ path: string; reason: string }>;
}

type Expected =
  | { status: number; detail: RegExp; extractedBytesAtMost?: number }
  | { dataset: (dataset: Dataset) => void | Promise<void> }
  | { features: (features: number[][]) => void | Promise<void> };

interface HostileCase {
  name: string;
  send: () => Promise<Sent>;
  expect: Expected;
}

const MiB = 1024 ** 2;
const cleanups: Array<() => unknown> = [];
const ctx = { after: (fn: () => unknown) => void cleanups.push(fn) };
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let config: Config;
let base: string;
/** DATA_DIR's parent: hostile archives aim their writes here. */
let sentinel: string;
let work: string;
let modelId: string;
/** Two valid classes of two 16 px PNGs each, as zip entries; image rows add their file to class 'circle'. */
let goodEntries: ZipFixtureEntry[];
/** Features of reference images, to compare unusual encodings of the same picture with. */
const reference: Record<string, number[]> = {};

const upload = async (bytes: Buffer, filename = 'upload.zip'): Promise<Sent> => {
  const form = new FormData();
  form.append('file', new Blob([bytes]), filename);
  return { path: '/v1/datasets', init: { method: 'POST', body: form } };
};
const zipOf = async (entries: ZipFixtureEntry[]): Promise<Buffer> => {
  const file = path.join(work, `archive-${Math.random().toString(36).slice(2)}.zip`);
  await writeZip(file, entries);
  return fs.readFile(file);
};
const tarOf = async (entries: RawTarEntry[]): Promise<Buffer> => {
  const file = path.join(work, `archive-${Math.random().toString(36).slice(2)}.tar`);
  await writeRawTar(file, entries);
  return fs.readFile(file);
};
/** The good dataset plus `extra` entries. */
const datasetWith = (...extra: ZipFixtureEntry[]) => zipOf([...goodEntries, ...extra]);
const json = (pathname: string, body: unknown): Sent => ({
  path: pathname,
  init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
});
const features = (...images: Buffer[]): Sent =>
  json(`/v1/models/${modelId}/features`, { instances: images.map((image) => ({ b64: image.toString('base64') })) });

/** From DATA_DIR to its parent, from where an upload is extracted (DATA_DIR/tmp/dataset-…/dataset/files). */
const toSentinel = '../'.repeat(5);

function skippedReason(dataset: Dataset, file: string): string | undefined {
  return dataset.skipped.find((s) => s.path.endsWith(file))?.reason;
}
function countOf(dataset: Dataset, name: string): number | undefined {
  return dataset.classes.find((c) => c.name === name)?.count;
}
/** Cosine distance: 0 for the same direction. */
function distance(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return 1 - dot / Math.sqrt(na * nb);
}
/** `got` is the picture of reference `same`, not that of reference `other` (what a wrong decode gives). */
function assertSamePicture(got: number[], same: string, other: string): void {
  const near = distance(got, reference[same]!);
  const far = distance(got, reference[other]!);
  // The same pixels give the same features, whatever the batch: a correct decode is an exact match.
  assert.ok(near < 1e-4, `distance to ${same} is ${near}, expected 0 (distance to ${other}: ${far})`);
  assert.ok(far > 0.1, `distance to ${other} is only ${far}: the references cannot tell the pictures apart`);
}

const cases: HostileCase[] = [
  // Archives: writes outside the destination, links, special files, bombs, broken and disguised archives.
  {
    name: 'zip-slip: ../ entry aimed at the folder beside DATA_DIR',
    send: async () => upload(await datasetWith({ name: `${toSentinel}slip.png`, data: 'x' })),
    expect: { status: 422, detail: /^parent directory reference \(\.\.\): (\.\.\/){5}slip\.png$/ },
  },
  {
    name: 'tar-slip: ../ entry in a tar',
    send: async () => upload(await tarOf([{ name: `${toSentinel}slip.png`, data: 'x' }]), 'upload.tar'),
    expect: { status: 422, detail: /^parent directory reference \(\.\.\)/ },
  },
  {
    name: 'absolute path entry',
    send: async () => upload(await datasetWith({ name: `${sentinel}/absolute.png`, data: 'x' })),
    expect: { status: 422, detail: /^absolute path: \/.*\/absolute\.png$/ },
  },
  {
    name: 'symlink entry in a zip, pointing beside DATA_DIR',
    send: async () => upload(await datasetWith({ name: 'circle/link.png', data: sentinel, mode: 0o120777 })),
    expect: { status: 422, detail: /^symbolic link: circle\/link\.png$/ },
  },
  {
    name: 'symlink entry in a tar, then a file written through it',
    send: async () =>
      upload(
        await tarOf([
          { name: 'circle/link', type: 'symlink', linkname: sentinel },
          { name: 'circle/link/through.png', data: 'x' },
        ]),
        'upload.tar',
      ),
    expect: { status: 422, detail: /^symbolic link: circle\/link$/ },
  },
  {
    name: 'hard link entry in a tar, to a file beside DATA_DIR',
    send: async () =>
      upload(
        await tarOf([{ name: 'circle/a.png', type: 'hardlink', linkname: `${sentinel}/secret.txt` }]),
        'upload.tar',
      ),
    expect: { status: 422, detail: /^hard link: circle\/a\.png$/ },
  },
  {
    name: 'character device entry in a tar',
    send: async () => upload(await tarOf([{ name: 'circle/null.png', type: 'chardev' }]), 'upload.tar'),
    expect: { status: 422, detail: /^device file: circle\/null\.png$/ },
  },
  {
    name: 'block device entry in a tar',
    send: async () => upload(await tarOf([{ name: 'circle/sda.png', type: 'blockdev' }]), 'upload.tar'),
    expect: { status: 422, detail: /^device file: circle\/sda\.png$/ },
  },
  {
    name: 'FIFO entry in a tar',
    send: async () => upload(await tarOf([{ name: 'circle/pipe.png', type: 'fifo' }]), 'upload.tar'),
    expect: { status: 422, detail: /^FIFO: circle\/pipe\.png$/ },
  },
  {
    name: 'zip bomb: 2 GiB of zeros in a 2 MB zip, honest headers',
    send: async () => upload(zipBomb(2048)),
    // Refused from the central directory: not one byte inflated.
    expect: {
      status: 422,
      detail: /^compression ratio above 200 \(declares 2147483648 bytes/,
      extractedBytesAtMost: 0,
    },
  },
  {
    name: 'zip bomb: 2 GiB of zeros whose headers claim 1 MiB',
    send: async () => upload(zipBomb(2048, { declaredBytes: MiB })),
    // Inflating stops at the declared size, which passed every limit.
    expect: {
      status: 422,
      detail: /^entry inflates to more bytes than its header declares: cats\/zeros\.png$/,
      extractedBytesAtMost: MiB,
    },
  },
  {
    name: 'tar.gz bomb: 2 GiB of zeros in a 2 MB tar.gz',
    send: async () => upload(tarGzBomb(2048), 'upload.tgz'),
    // node-tar's gzip guard (the larger of 1000 and ARCHIVE_MAX_RATIO, as inflating bursts) trips first.
    expect: { status: 422, detail: /^compression ratio above 1000$/, extractedBytesAtMost: 0 },
  },
  {
    name: 'truncated zip',
    send: async () => {
      const whole = await datasetWith();
      return upload(whole.subarray(0, Math.floor(whole.length / 2)));
    },
    expect: { status: 422, detail: /^corrupt zip archive$/ },
  },
  {
    name: 'a zip named .tar.gz (misleading extension) is read as the zip it is',
    send: async () => upload(await datasetWith(), 'holiday-photos.tar.gz'),
    expect: {
      dataset: (dataset) => {
        assert.equal(dataset.name, 'holiday-photos');
        assert.deepEqual(dataset.classes, [
          { name: 'circle', count: 2 },
          { name: 'square', count: 2 },
        ]);
      },
    },
  },
  {
    name: 'a PNG named .zip',
    send: async () => upload(await encodeSolid([1, 2, 3]), 'dataset.zip'),
    expect: { status: 422, detail: /^not a zip or tar archive$/ },
  },
  {
    name: 'a gzipped text file named .tgz',
    send: async () => upload(gzipSync(TEXT_FILE), 'dataset.tgz'),
    expect: { status: 422, detail: /^gzip file does not contain a tar archive$/ },
  },
  {
    name: 'a RAR archive',
    send: async () => upload(Buffer.from('Rar!\x1a\x07\x01\x00 and then some', 'latin1'), 'dataset.zip'),
    expect: { status: 422, detail: /^unsupported archive format \(rar\); use zip, tar or tar\.gz$/ },
  },

  // Images inside a dataset: unusual but valid ones count, unusable ones are skipped with their reason.
  {
    name: 'dataset image: CMYK JPEG counts',
    send: async () => upload(await datasetWith({ name: 'circle/cmyk.jpg', data: await encodeCmykJpeg([200, 60, 40]) })),
    expect: { dataset: (d) => (assert.equal(countOf(d, 'circle'), 3), assert.deepEqual(d.skipped, [])) },
  },
  {
    name: 'dataset image: 16-bit PNG counts',
    send: async () =>
      upload(await datasetWith({ name: 'circle/deep.png', data: await encode16BitPng([40000, 0, 65535]) })),
    expect: { dataset: (d) => (assert.equal(countOf(d, 'circle'), 3), assert.deepEqual(d.skipped, [])) },
  },
  {
    name: 'dataset image: animated GIF counts (its first frame)',
    send: async () =>
      upload(
        await datasetWith({
          name: 'circle/anim.gif',
          data: await encodeAnimated([
            [255, 0, 0],
            [0, 0, 255],
          ]),
        }),
      ),
    expect: { dataset: (d) => (assert.equal(countOf(d, 'circle'), 3), assert.deepEqual(d.skipped, [])) },
  },
  {
    name: 'dataset image: EXIF-rotated JPEG counts',
    send: async () => upload(await datasetWith({ name: 'circle/rotated.jpg', data: await encodeExifRotatedJpeg(6) })),
    expect: { dataset: (d) => (assert.equal(countOf(d, 'circle'), 3), assert.deepEqual(d.skipped, [])) },
  },
  {
    name: 'dataset image: 1×1 PNG is skipped as too small',
    send: async () =>
      upload(await datasetWith({ name: 'circle/pixel.png', data: await encodeSolid([9, 9, 9], { width: 1 }) })),
    expect: {
      dataset: (d) => {
        assert.equal(countOf(d, 'circle'), 2);
        assert.equal(skippedReason(d, 'circle/pixel.png'), 'image too small (1×1)');
      },
    },
  },
  {
    name: 'dataset image: PNG header claiming 100000×100000 is skipped as a pixel flood',
    send: async () => upload(await datasetWith({ name: 'circle/flood.png', data: pngClaiming(100_000, 100_000) })),
    expect: {
      dataset: (d) => {
        assert.equal(countOf(d, 'circle'), 2);
        assert.equal(skippedReason(d, 'circle/flood.png'), 'too many pixels (100000×100000 > 50000000)');
      },
    },
  },
  {
    name: 'dataset image: text named .jpg is skipped as not an image',
    send: async () => upload(await datasetWith({ name: 'circle/fake.jpg', data: TEXT_FILE })),
    expect: { dataset: (d) => assert.equal(skippedReason(d, 'circle/fake.jpg'), 'not an image') },
  },

  // Images sent to a model: decoded the way a user expects, or a 400 naming the instance and the reason.
  {
    name: 'predict image: CMYK JPEG is seen as the sRGB picture',
    send: async () => features(await encodeCmykJpeg([200, 60, 40], 32)),
    expect: { features: ([got]) => assertSamePicture(got!, 'cmykAsSrgb', 'blue') },
  },
  {
    name: 'predict image: 16-bit PNG is seen as the 8-bit picture',
    send: async () => features(await encode16BitPng([40092, 0, 65535], 32)),
    expect: { features: ([got]) => assertSamePicture(got!, 'violet', 'rust') },
  },
  {
    name: 'predict image: animated GIF is seen as its first frame',
    send: async () =>
      features(
        await encodeAnimated(
          [
            [200, 60, 40],
            [40, 60, 200],
          ],
          32,
        ),
      ),
    expect: { features: ([got]) => assertSamePicture(got!, 'rust', 'blue') },
  },
  {
    name: 'predict image: EXIF orientation 6 is applied (left-red becomes top-red)',
    send: async () => features(await encodeExifRotatedJpeg(6, 32, 32)),
    expect: { features: ([got]) => assertSamePicture(got!, 'exifApplied', 'exifIgnored') },
  },
  {
    name: 'predict image: 1×1',
    send: async () => features(await encodeSolid([9, 9, 9], { width: 1 })),
    expect: { status: 400, detail: /^instances\[0\]: image too small \(1×1\)$/ },
  },
  {
    name: 'predict image: PNG header claiming 100000×100000',
    send: async () => features(await encodeSolid([9, 9, 9]), pngClaiming(100_000, 100_000)),
    expect: { status: 400, detail: /^instances\[1\]: too many pixels \(100000×100000 > 50000000\)$/ },
  },

  // Dataset structure.
  {
    name: 'unicode class names are kept exactly, in code point order',
    send: async () =>
      upload(
        await zipOf(
          await Promise.all(
            ['café', '猫', '🐶', 'Zebra'].map(async (name, i) => ({
              name: `${name}/a.png`,
              data: await encodeSolid([i * 60, 0, 0]),
            })),
          ),
        ),
      ),
    expect: {
      dataset: (d) =>
        assert.deepEqual(
          d.classes.map((c) => c.name),
          ['Zebra', 'café', '猫', '🐶'],
        ),
    },
  },
  {
    name: 'a 255-byte class name (the longest a file system allows) is accepted',
    send: async () =>
      upload(await datasetWith({ name: `${'é'.repeat(127)}x/a.png`, data: await encodeSolid([0, 9, 0]) })),
    expect: { dataset: (d) => assert.ok(d.classes.some((c) => c.name === `${'é'.repeat(127)}x`)) },
  },
  {
    name: 'a 256-byte class name',
    send: async () =>
      upload(await datasetWith({ name: `${'é'.repeat(128)}/a.png`, data: await encodeSolid([0, 9, 0]) })),
    expect: { status: 422, detail: /^entry name too long: é+/ },
  },
  {
    name: 'empty class folders are skipped, not made into classes',
    send: async () =>
      upload(await datasetWith({ name: 'triangle/', directory: true }, { name: 'ring/notes.txt', data: 'x' })),
    expect: {
      dataset: (d) => {
        assert.deepEqual(
          d.classes.map((c) => c.name),
          ['circle', 'square'],
        );
        assert.equal(skippedReason(d, 'triangle'), 'empty class folder (no image files)');
        assert.equal(skippedReason(d, 'ring'), 'empty class folder (no image files)');
      },
    },
  },
  {
    name: 'a file in both train/ and val/ is kept in train and skipped in val',
    send: async () => {
      const split = goodEntries.flatMap((e) => [{ ...e, name: `train/${e.name}` }]);
      const copy = goodEntries.find((e) => e.name.startsWith('circle/'))!;
      return upload(await zipOf([...split, { ...copy, name: 'val/circle/copy.png' }]));
    },
    expect: {
      dataset: (d) => {
        assert.equal(d.images, 4);
        assert.match(skippedReason(d, 'val/circle/copy.png') ?? '', /^duplicate of train\/circle\/.*\.png$/);
      },
    },
  },
  {
    name: 'a dataset with one class',
    send: async () => upload(await zipOf(goodEntries.filter((e) => e.name.startsWith('circle/')))),
    expect: { status: 422, detail: /^needs at least 2 classes with at least one image; found 1: 'circle'$/ },
  },

  // Requests.
  {
    name: 'invalid JSON',
    send: async () => ({
      path: '/v1/jobs',
      init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"datasetId":' },
    }),
    expect: { status: 400, detail: /JSON/ },
  },
  {
    name: 'a wrong content type',
    send: async () => ({
      path: '/v1/jobs',
      init: { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'train please' },
    }),
    expect: { status: 415, detail: /^unsupported content type \(text\/plain\): send application\/json/ },
  },
  {
    name: 'garbage base64',
    send: async () => json(`/v1/models/${modelId}/features`, { instances: [{ b64: '%%% not base64 %%%' }] }),
    expect: { status: 400, detail: /^instances\[0\]: b64 is not valid base64$/ },
  },
  {
    name: 'a JSON body over JSON_BODY_MAX_BYTES',
    send: async () => json(`/v1/models/${modelId}/features`, { instances: [{ b64: 'A'.repeat(2 * MiB) }] }),
    expect: { status: 413, detail: /^request body too large: more than 1048576 bytes \(JSON_BODY_MAX_BYTES\)/ },
  },
  {
    name: 'an upload over UPLOAD_MAX_BYTES',
    send: async () =>
      upload(await datasetWith({ name: 'circle/big.png', data: randomBytes(5 * MiB), compress: false })),
    expect: { status: 413, detail: /^the upload is larger than 4194304 bytes \(UPLOAD_MAX_BYTES\); nothing was kept$/ },
  },
  {
    name: 'a multipart upload without a file field',
    send: async () => {
      const form = new FormData();
      form.append('name', 'no file here');
      return { path: '/v1/datasets', init: { method: 'POST', body: form } };
    },
    expect: { status: 400, detail: /^the multipart body has no "file" field$/ },
  },
  {
    name: 'an upload that is not multipart',
    send: async () => json('/v1/datasets', { file: 'dataset.zip' }),
    expect: { status: 400, detail: /multipart\/form-data, field "file"/ },
  },
];

/** Every path under `dir`, relative, sorted; or only its own entries. */
async function listing(dir: string, recursive = true): Promise<string[]> {
  return ((await fs.readdir(dir, { recursive })) as string[]).map(String).sort();
}

describe('hostile and broken input: refused clearly or accepted exactly, nothing left behind', () => {
  before(async () => {
    sentinel = await tempDir(ctx, 'effnet-sentinel-');
    await fs.writeFile(path.join(sentinel, 'secret.txt'), 'do not touch');
    config = await testConfig(ctx, {
      DATA_DIR: path.join(sentinel, 'data'),
      JSON_BODY_MAX_BYTES: String(MiB),
      RATE_LIMIT_UPLOADS: '1000',
      UPLOAD_MAX_BYTES: String(4 * MiB),
    });
    const app = await buildApp({ config, logger: false });
    ctx.after(() => app.close());
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    work = await tempDir(ctx);
    modelId = await writeModelFixture(config.dataDir, { imageSize: 32 });

    await writeShapesDataset(path.join(work, 'good'), { classes: 2, perClass: 2, size: 16, seed: 9 });
    goodEntries = [];
    for (const name of await listing(path.join(work, 'good'))) {
      const file = path.join(work, 'good', name);
      if ((await fs.stat(file)).isFile()) goodEntries.push({ name, data: await fs.readFile(file) });
    }

    // Lossless references of what each unusual encoding must decode to (and of what a wrong decode would give).
    const cmyk = await encodeCmykJpeg([200, 60, 40], 32);
    const exif = await encodeExifRotatedJpeg(6, 32, 32);
    const pictures: Record<string, Promise<Buffer>> = {
      rust: encodeSolid([200, 60, 40], { width: 32 }),
      blue: encodeSolid([40, 60, 200], { width: 32 }),
      violet: encodeSolid([156, 0, 255], { width: 32 }),
      cmykAsSrgb: sharp(cmyk).toColourspace('srgb').png().toBuffer(),
      exifApplied: sharp(exif).rotate().png().toBuffer(),
      exifIgnored: sharp(exif).png().toBuffer(),
    };
    for (const [name, picture] of Object.entries(pictures)) {
      const res = await send(features(await picture));
      assert.equal(res.status, 200, await res.clone().text());
      reference[name] = ((await res.json()) as { features: number[][] }).features[0]!;
    }
  });

  test('the table has at least 20 cases', () => assert.ok(cases.length >= 20, `${cases.length} cases`));

  for (const row of cases) {
    test(row.name, async () => {
      const dataBefore = await listing(config.dataDir);
      const sentinelBefore = await listing(sentinel, false);
      const res = await send(await row.send());
      const text = await res.text();
      const expect = row.expect;
      let accepted: string | undefined;
      if ('status' in expect) {
        assert.equal(res.status, expect.status, text);
        assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
        const problem = JSON.parse(text) as { status: number; detail: string; extractedBytes?: number };
        assert.equal(problem.status, expect.status);
        assert.match(problem.detail, expect.detail);
        if (expect.extractedBytesAtMost !== undefined) {
          assert.equal(typeof problem.extractedBytes, 'number', text);
          assert.ok(problem.extractedBytes! <= expect.extractedBytesAtMost, `extracted ${problem.extractedBytes}`);
        }
      } else if ('dataset' in expect) {
        assert.equal(res.status, 201, text);
        const dataset = JSON.parse(text) as Dataset;
        await expect.dataset(dataset);
        accepted = dataset.id;
        // Fully committed: readable through the API, report and files in place.
        const stored = await fetch(`${base}/v1/datasets/${dataset.id}`);
        assert.equal(stored.status, 200);
        assert.deepEqual(await stored.json(), dataset);
      } else {
        assert.equal(res.status, 200, text);
        await expect.features((JSON.parse(text) as { features: number[][] }).features);
      }

      assert.equal((await fetch(`${base}/health`)).status, 200);
      assert.deepEqual(await listing(path.join(config.dataDir, 'tmp')), []);
      // The datasets folder itself is made by the first commit.
      const added = (await listing(config.dataDir)).filter((e) => !dataBefore.includes(e) && e !== 'datasets');
      const expected = accepted
        ? (await listing(path.join(config.dataDir, 'datasets', accepted))).map((e) =>
            path.join('datasets', accepted!, e),
          )
        : [];
      assert.deepEqual(added, accepted ? [path.join('datasets', accepted), ...expected].sort() : []);
      if (accepted) {
        assert.ok(expected.includes(path.join('datasets', accepted, 'dataset.json')));
        assert.ok(expected.includes(path.join('datasets', accepted, 'files')));
      }
      assert.deepEqual(await listing(sentinel, false), sentinelBefore);
      assert.equal(await fs.readFile(path.join(sentinel, 'secret.txt'), 'utf8'), 'do not touch');
    });
  }
});

function send(sent: Sent): Promise<Response> {
  return fetch(`${base}${sent.path}`, sent.init);
}
