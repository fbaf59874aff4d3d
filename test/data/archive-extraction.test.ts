import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ArchiveError } from '../../src/data/archive-error.js';
import { extractArchive, safeEntryPath } from '../../src/data/archive-extraction.js';
import { detectArchiveFormat } from '../../src/data/archive-format.js';
import { scanDatasetDirectory } from '../../src/data/dataset-directory.js';
import {
  tarDirectory,
  writeRawTar,
  writeShapesDataset,
  writeZip,
  zipDirectory,
  type RawTarEntry,
  type ZipFixtureEntry,
} from '../helpers/image-fixtures.js';

let tmp: string;
let source: string;
let counter = 0;

function fresh(prefix: string): string {
  return path.join(tmp, `${prefix}-${++counter}`);
}

async function listRecursive(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

/** Extraction must fail with `reason` and leave nothing behind. */
async function assertRejected(archive: string, reason: string | RegExp, limits = {}): Promise<void> {
  const dest = fresh('dest');
  await assert.rejects(extractArchive(archive, dest, limits), (err: unknown) => {
    assert.ok(err instanceof ArchiveError, `expected ArchiveError, got ${String(err)}`);
    assert.equal(err.status, 422);
    if (typeof reason === 'string') assert.equal(err.reason, reason);
    else assert.match(err.message, reason);
    return true;
  });
  await assert.rejects(stat(dest), { code: 'ENOENT' }, 'destination should be removed');
  // Same with a destination that already existed (empty): it stays, but empty.
  const existing = fresh('existing');
  await mkdir(existing);
  await assert.rejects(extractArchive(archive, existing, limits), ArchiveError);
  assert.deepEqual(await readdir(existing), []);
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'archive-extraction-'));
  source = path.join(tmp, 'source');
  await writeShapesDataset(source, { classes: 2, perClass: 2, size: 16, layout: 'wrapped', wrapper: 'pets' });
});
after(() => rm(tmp, { recursive: true, force: true }));

describe('extractArchive: well-formed archives', () => {
  for (const kind of ['zip', 'tar', 'tar.gz'] as const) {
    test(`${kind} round-trips a dataset folder`, async () => {
      const archive = fresh(`dataset.${kind}`);
      if (kind === 'zip') await zipDirectory(source, archive);
      else await tarDirectory(source, archive, { gzip: kind === 'tar.gz' });
      const dest = fresh('out');
      const result = await extractArchive(archive, dest);
      assert.equal(result.format, kind);
      assert.equal(result.files, 4);
      assert.deepEqual(result.ignored, []);
      assert.deepEqual(await listRecursive(dest), await listRecursive(source));
      const file = 'pets/circle/circle_000.png';
      assert.deepEqual(await readFile(path.join(dest, file)), await readFile(path.join(source, file)));
      assert.equal(
        result.bytes,
        (await Promise.all((await listRecursive(source)).map((f) => stat(path.join(source, f)))))
          .filter((s) => s.isFile())
          .reduce((n, s) => n + s.size, 0),
      );
      const scan = await scanDatasetDirectory(dest);
      assert.deepEqual([scan.wrapper, scan.classes], ['pets', ['circle', 'square']]);
    });
  }

  test('format comes from the bytes: a zip named .tar and a tar.gz named .zip both work', async () => {
    const zipNamedTar = fresh('really-a-zip.tar');
    await zipDirectory(source, zipNamedTar);
    assert.equal((await extractArchive(zipNamedTar, fresh('out'))).format, 'zip');
    const tgzNamedZip = fresh('really-a-tgz.zip');
    await tarDirectory(source, tgzNamedZip, { gzip: true });
    assert.equal(await detectArchiveFormat(tgzNamedZip), 'tar.gz');
  });

  test('non-archives and unsupported formats are refused clearly', async () => {
    const text = fresh('notes.zip');
    await writeFile(text, 'just some text, long enough to not be anything else'.repeat(20));
    await assertRejected(text, 'not a zip or tar archive');
    const gz = fresh('file.tar.gz');
    await writeFile(gz, gzipSync(Buffer.from('plain text, not a tar'.repeat(40))));
    await assertRejected(gz, 'gzip file does not contain a tar archive');
    const sevenZip = fresh('a.7z');
    await writeFile(sevenZip, Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4, 1, 2, 3]));
    await assertRejected(sevenZip, 'unsupported archive format (7z); use zip, tar or tar.gz');
    const empty = fresh('empty.zip');
    await writeFile(empty, '');
    await assertRejected(empty, 'archive is empty');
  });

  test('truncated archives are refused as corrupt', async () => {
    const payload = randomBytes(200_000);
    const tar = fresh('cut.tar');
    await writeRawTar(tar, [
      { name: 'a.png', data: 'fine' },
      { name: 'b.png', data: payload },
    ]);
    const whole = await readFile(tar);
    await writeFile(tar, whole.subarray(0, 100_000));
    await assertRejected(tar, 'corrupt tar archive');
    const tgz = fresh('cut.tgz');
    await writeFile(tgz, gzipSync(whole).subarray(0, 100_000));
    await assertRejected(tgz, 'corrupt tar archive');
    const zip = fresh('cut.zip');
    await writeZip(zip, [
      { name: 'a.png', data: 'fine' },
      { name: 'b.png', data: payload },
    ]);
    await writeFile(zip, (await readFile(zip)).subarray(0, 100_000));
    await assertRejected(zip, 'corrupt zip archive');
  });

  test('nested archives are skipped and reported; "./" prefixes are normalised', async () => {
    const zip = fresh('nested.zip');
    await writeZip(zip, [
      { name: 'data/a.png', data: 'png-ish' },
      { name: 'data/inner.zip', data: 'PK\u0003\u0004…' },
      { name: 'data/more.tar.gz', data: 'x' },
    ]);
    const dest = fresh('out');
    const result = await extractArchive(zip, dest);
    assert.equal(result.files, 1);
    assert.deepEqual(result.ignored, [
      { path: 'data/inner.zip', reason: 'nested archive (not extracted)' },
      { path: 'data/more.tar.gz', reason: 'nested archive (not extracted)' },
    ]);
    assert.deepEqual(await listRecursive(dest), ['data', 'data/a.png']);

    const tar = fresh('dot.tar');
    await writeRawTar(tar, [
      { name: './', type: 'dir' },
      { name: './x/y.png', data: 'y' },
      { name: 'x/z.tgz', data: 'z' },
    ]);
    const tarDest = fresh('out');
    const tarResult = await extractArchive(tar, tarDest);
    assert.deepEqual(await listRecursive(tarDest), ['x', 'x/y.png']);
    assert.deepEqual(tarResult.ignored, [{ path: 'x/z.tgz', reason: 'nested archive (not extracted)' }]);
  });

  test('files get safe modes whatever the archive says', async () => {
    const zip = fresh('modes.zip');
    await writeZip(zip, [{ name: 'run.sh', data: '#!/bin/sh', mode: 0o100777 }]);
    const dest = fresh('out');
    await extractArchive(zip, dest);
    assert.equal((await stat(path.join(dest, 'run.sh'))).mode & 0o7111, 0);
  });

  test('destination must be an empty folder and is never a symlink', async () => {
    const zip = fresh('ok.zip');
    await zipDirectory(source, zip);
    const full = fresh('full');
    await mkdir(full);
    await writeFile(path.join(full, 'keep.txt'), 'keep');
    await assert.rejects(extractArchive(zip, full), { reason: 'destination folder is not empty' });
    assert.deepEqual(await readdir(full), ['keep.txt']);
    const target = fresh('target');
    await mkdir(target);
    const link = fresh('link');
    await symlink(target, link);
    await assert.rejects(extractArchive(zip, link), { reason: 'destination is not a folder' });
    assert.deepEqual(await readdir(target), []);
  });
});

describe('extractArchive: hostile archives are rejected and leave nothing behind', () => {
  const good: ZipFixtureEntry = { name: 'ok/fine.png', data: 'fine' };
  const zipCases: Array<[string, ZipFixtureEntry, string]> = [
    ['zip-slip', { name: '../evil.txt', data: 'x' }, 'parent directory reference (..)'],
    ['nested zip-slip', { name: 'ok/../../evil.txt', data: 'x' }, 'parent directory reference (..)'],
    ['absolute path', { name: '/tmp/evil.txt', data: 'x' }, 'absolute path'],
    ['drive letter', { name: 'C:/evil.txt', data: 'x' }, 'Windows drive letter in entry name'],
    ['backslash', { name: '..\\evil.txt', data: 'x' }, 'backslash in entry name (Windows path)'],
    ['symlink', { name: 'ok/link.png', data: '/etc/passwd', mode: 0o120777 }, 'symbolic link'],
    ['device', { name: 'ok/dev', data: '', mode: 0o020644 }, 'special file (device, FIFO or socket)'],
    ['fifo', { name: 'ok/fifo', data: '', mode: 0o010644 }, 'special file (device, FIFO or socket)'],
  ];
  for (const [label, entry, reason] of zipCases) {
    test(`zip: ${label}`, async () => {
      const zip = fresh('hostile.zip');
      await writeZip(zip, [good, entry]);
      await assertRejected(zip, reason);
    });
  }

  test('zip: duplicate entries', async () => {
    const zip = fresh('dup.zip');
    await writeZip(zip, [good, { name: 'ok/fine.png', data: 'again' }]);
    await assertRejected(zip, 'duplicate entry');
  });

  const tarCases: Array<[string, RawTarEntry, string]> = [
    ['zip-slip', { name: '../evil.txt', data: 'x' }, 'parent directory reference (..)'],
    ['absolute path', { name: '/tmp/evil.txt', data: 'x' }, 'absolute path'],
    ['drive letter', { name: 'C:evil.txt', data: 'x' }, 'Windows drive letter in entry name'],
    ['backslash', { name: 'ok\\..\\..\\evil.txt', data: 'x' }, 'backslash in entry name (Windows path)'],
    ['symlink', { name: 'ok/link', type: 'symlink', linkname: '/etc/passwd' }, 'symbolic link'],
    ['hard link', { name: 'ok/hard', type: 'hardlink', linkname: 'ok/fine.png' }, 'hard link'],
    ['character device', { name: 'ok/tty', type: 'chardev' }, 'device file'],
    ['block device', { name: 'ok/sda', type: 'blockdev' }, 'device file'],
    ['fifo', { name: 'ok/pipe', type: 'fifo' }, 'FIFO'],
  ];
  for (const [label, entry, reason] of tarCases) {
    for (const gzip of [false, true]) {
      test(`${gzip ? 'tar.gz' : 'tar'}: ${label}`, async () => {
        const tar = fresh(gzip ? 'hostile.tgz' : 'hostile.tar');
        // The good entry comes first, so something is written before the rejection and must be cleaned up.
        await writeRawTar(tar, [{ name: 'ok/', type: 'dir' }, { name: 'ok/fine.png', data: 'fine' }, entry], { gzip });
        await assertRejected(tar, reason);
      });
    }
  }

  test('entry count limit', async () => {
    const zip = fresh('many.zip');
    await writeZip(
      zip,
      Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.png`, data: 'x' })),
    );
    await assertRejected(zip, /too many entries \(more than 3\)/, { maxEntries: 3 });
    const tar = fresh('many.tar');
    await writeRawTar(
      tar,
      Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.png`, data: 'x' })),
    );
    await assertRejected(tar, /too many entries \(more than 3\)/, { maxEntries: 3 });
  });
});

describe('extractArchive: decompression bombs', () => {
  const zeros = Buffer.alloc(4 * 1024 * 1024);

  test('zip: declared size over the total limit is refused before writing', async () => {
    const zip = fresh('bomb.zip');
    await writeZip(zip, [{ name: 'zeros.png', data: zeros }]);
    assert.ok((await stat(zip)).size < 64 * 1024);
    await assertRejected(zip, /archive declares more than 1048576 bytes/, { maxTotalBytes: 1024 * 1024 });
  });

  test('zip: compression ratio is enforced from the declared sizes, before writing', async () => {
    const zip = fresh('ratio.zip');
    await writeZip(zip, [
      { name: 'a.png', data: 'fine' },
      { name: 'zeros.png', data: zeros },
    ]);
    await assertRejected(zip, /compression ratio above 20 \(declares/, {
      maxCompressionRatio: 20,
      ratioGraceBytes: 64 * 1024,
    });
  });

  test('zip: a header that understates the size does not get past the byte count', async () => {
    const zip = fresh('liar.zip');
    await writeZip(zip, [{ name: 'zeros.png', data: zeros }]);
    const bytes = await readFile(zip);
    // Central directory entry: uncompressed size at offset 24.
    const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bytes.writeUInt32LE(1000, cd + 24);
    await writeFile(zip, bytes);
    await assertRejected(zip, 'entry inflates to more bytes than its header declares');
    await assert.rejects(extractArchive(zip, fresh('out')), { detail: /too many bytes in the stream/ });
  });

  test('tar.gz: total bytes and ratio are checked from the headers, before writing', async () => {
    const tgz = fresh('bomb.tgz');
    await writeRawTar(
      tgz,
      [
        { name: 'a.png', data: 'fine' },
        { name: 'zeros.png', data: zeros },
      ],
      { gzip: true },
    );
    assert.ok((await stat(tgz)).size < 64 * 1024);
    await assertRejected(tgz, /archive declares more than 1048576 bytes: zeros.png/, {
      maxTotalBytes: 1024 * 1024,
      maxCompressionRatio: 1e6,
    });
    // Zeros compress ~1000×: node-tar's gzip guard stops them before a single entry is written.
    await assertRejected(tgz, /compression ratio above 1000/);
    // Sparse data compresses only ~20-50×: our own check has to catch it. A tar header cannot understate a size
    // (it frames the data), so the declared sizes already tell.
    const sparse = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < sparse.length; i += 97) sparse[i] = (i * 7919) % 251;
    const mild = fresh('mild.tgz');
    await writeRawTar(
      mild,
      [
        { name: 'a.png', data: 'fine' },
        { name: 'sparse.png', data: sparse },
      ],
      { gzip: true },
    );
    const ratio = sparse.length / (await stat(mild)).size;
    assert.ok(ratio > 10 && ratio < 1000, `sparse ratio ${ratio}`);
    await assertRejected(mild, /compression ratio above 5 \(declares \d+ bytes in a \d+-byte archive\): sparse.png/, {
      maxCompressionRatio: 5,
      ratioGraceBytes: 64 * 1024,
    });
    // Plain tar: no gzip ratio guard in the way, so the per-entry limit is what stops it.
    const tar = fresh('big.tar');
    await writeRawTar(tar, [
      { name: 'a.png', data: 'fine' },
      { name: 'zeros.png', data: zeros },
    ]);
    await assertRejected(tar, /entry larger than 1000 bytes: zeros.png/, { maxEntryBytes: 1000 });
  });
});

describe('safeEntryPath', () => {
  test('normalises harmless names and refuses unsafe ones', () => {
    assert.equal(safeEntryPath('./a//b/./c.png'), 'a/b/c.png');
    assert.equal(safeEntryPath('./'), '');
    assert.equal(safeEntryPath('a..b/c..png'), 'a..b/c..png');
    assert.throws(() => safeEntryPath('a/\0b'), { reason: 'NUL byte in entry name' });
    assert.throws(() => safeEntryPath('a/../../b'), ArchiveError);
    assert.throws(() => safeEntryPath(`${'x'.repeat(300)}/y`), { reason: 'entry name too long' });
  });
});
