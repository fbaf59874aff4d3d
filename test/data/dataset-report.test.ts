import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DatasetError } from '../../src/data/dataset-error.js';
import { inspectDataset } from '../../src/data/dataset-report.js';
import { TEXT_FILE, encodeHalves, encodeSolid, truncated, writeShapesDataset } from '../helpers/image-fixtures.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'dataset-report-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

async function put(root: string, rel: string, content: Buffer): Promise<void> {
  await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await writeFile(path.join(root, rel), content);
}

describe('inspectDataset', () => {
  test('bad files are skipped with reasons; the rest is counted per class', async () => {
    const root = path.join(tmp, 'flat');
    const dataset = await writeShapesDataset(root, { perClass: 3, size: 16, format: 'jpeg', layout: 'wrapped' });
    const base = path.join(root, 'dataset');
    await put(base, 'circle/notes.png', TEXT_FILE);
    await put(
      base,
      'circle/cut.jpg',
      truncated(await encodeHalves([1, 2, 3], [200, 100, 0], { width: 64, format: 'jpeg' })),
    );
    await put(base, 'square/dot.png', await encodeSolid([0, 0, 0], { width: 1 }));
    await put(base, 'square/big.png', await encodeSolid([0, 0, 0], { width: 64 }));
    await put(base, 'triangle/readme.txt', TEXT_FILE);
    await put(root, '.DS_Store', TEXT_FILE);
    let progress = 0;
    const report = await inspectDataset(root, {
      concurrency: 2,
      limitInputPixels: 1000,
      onProgress: (checked, total) => {
        progress = checked;
        assert.equal(total, 13);
      },
    });
    assert.equal(progress, 13);
    assert.equal(report.layout, 'flat');
    assert.equal(report.wrapper, 'dataset');
    assert.deepEqual(report.classes, [
      { name: 'circle', count: 3, valCount: undefined },
      { name: 'square', count: 3, valCount: undefined },
      { name: 'triangle', count: 3, valCount: undefined },
    ]);
    assert.equal(report.images, 9);
    assert.deepEqual(
      [...report.train].sort((a, b) => a.path.localeCompare(b.path)),
      [...dataset.train].sort((a, b) => a.path.localeCompare(b.path)),
    );
    assert.deepEqual(Object.fromEntries(report.skipped.map((s) => [s.path, s.reason])), {
      '.DS_Store': 'hidden or system file',
      'dataset/triangle/readme.txt': 'unsupported file type (.txt)',
      'dataset/circle/cut.jpg': 'truncated or corrupt',
      'dataset/circle/notes.png': 'not an image',
      'dataset/square/big.png': 'too many pixels (64×64 > 1000)',
      'dataset/square/dot.png': 'image too small (1×1)',
    });
  });

  test('oversized files are skipped without being read', async () => {
    const root = path.join(tmp, 'large');
    await writeShapesDataset(root, { classes: 2, perClass: 1, size: 16 });
    await put(root, 'circle/huge.png', Buffer.concat([await encodeSolid([1, 1, 1]), Buffer.alloc(4096)]));
    const report = await inspectDataset(root, { maxFileBytes: 2048 });
    assert.equal(report.skipped.length, 1);
    assert.equal(report.skipped[0].path, 'circle/huge.png');
    assert.match(report.skipped[0].reason, /^file too large \(4\.\d KiB > 2\.0 KiB\)$/);
  });

  test('one usable class is a clear DatasetError', async () => {
    const root = path.join(tmp, 'one-class');
    await put(root, 'cats/a.png', await encodeSolid([1, 2, 3]));
    await put(root, 'dogs/broken.png', TEXT_FILE);
    await assert.rejects(inspectDataset(root), (err: unknown) => {
      assert.ok(err instanceof DatasetError);
      assert.equal(err.message, "needs at least 2 classes with at least one image; found 1: 'cats'");
      assert.equal(err.status, 422);
      return true;
    });
    const empty = path.join(tmp, 'no-class');
    await mkdir(empty);
    await assert.rejects(inspectDataset(empty), {
      message: 'needs at least 2 classes with at least one image; found 0',
    });
  });

  test('classes without valid training images are dropped and labels renumbered', async () => {
    const root = path.join(tmp, 'dropped');
    await put(root, 'train/a/1.png', await encodeSolid([1, 0, 0]));
    await put(root, 'train/b/1.png', TEXT_FILE);
    await put(root, 'train/c/1.png', await encodeSolid([0, 0, 1]));
    await put(root, 'val/b/1.png', await encodeSolid([0, 1, 0]));
    await put(root, 'val/c/1.png', await encodeSolid([0, 0, 2]));
    const report = await inspectDataset(root);
    assert.deepEqual(report.classes, [
      { name: 'a', count: 1, valCount: 0 },
      { name: 'c', count: 1, valCount: 1 },
    ]);
    assert.deepEqual(
      report.train.map((i) => [path.relative(root, i.path), i.label]),
      [
        ['train/a/1.png', 0],
        ['train/c/1.png', 1],
      ],
    );
    assert.deepEqual(
      report.val!.map((i) => [path.relative(root, i.path), i.label]),
      [['val/c/1.png', 1]],
    );
    assert.deepEqual(report.skipped, [
      { path: 'train/b/1.png', reason: 'not an image' },
      { path: 'val/b/1.png', reason: "class 'b' has no valid training images" },
    ]);
  });

  test('split layout: val files identical to a train file are dropped from val', async () => {
    const root = path.join(tmp, 'split');
    const dataset = await writeShapesDataset(root, { perClass: 3, valPerClass: 2, size: 16, layout: 'split' });
    const original = dataset.train[1].path;
    await copyFile(original, path.join(root, 'val', 'circle', 'copy.png'));
    const report = await inspectDataset(root, { concurrency: 1 });
    assert.equal(report.layout, 'split');
    assert.deepEqual(
      report.classes.map((c) => [c.name, c.count, c.valCount]),
      [
        ['circle', 3, 2],
        ['square', 3, 2],
        ['triangle', 3, 2],
      ],
    );
    assert.equal(report.images, 15);
    assert.deepEqual(report.skipped, [
      { path: 'val/circle/copy.png', reason: `duplicate of ${path.relative(root, original)}` },
    ]);
    assert.equal(report.val!.length, 6);
  });
});
