import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compareCodePoints, scanDatasetDirectory } from '../../src/data/dataset-directory.js';
import { DatasetError } from '../../src/data/dataset-error.js';
import { encodeSolid, writeShapesDataset } from '../helpers/image-fixtures.js';

let tmp: string;
let png: Buffer;

async function touch(root: string, rel: string, content: Buffer | string = png): Promise<void> {
  const file = path.join(root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

async function fresh(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

function rel(root: string, items: Array<{ path: string; label: number }>): Array<[string, number]> {
  return items.map((i) => [path.relative(root, i.path), i.label]);
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'dataset-directory-'));
  png = await encodeSolid([10, 20, 30]);
});
after(() => rm(tmp, { recursive: true, force: true }));

describe('compareCodePoints', () => {
  test('orders like Python sorted(): by code point, not UTF-16 unit', () => {
    const names = ['b', '😀', 'a', '\uFFFD', 'Z', 'é', '_x', 'A', 'ab', 'a b'];
    assert.deepEqual([...names].sort(compareCodePoints), ['A', 'Z', '_x', 'a', 'a b', 'ab', 'b', 'é', '\uFFFD', '😀']);
    // Plain JS sort disagrees on astral characters, which is why the comparator exists.
    assert.notDeepEqual([...names].sort(), [...names].sort(compareCodePoints));
  });
});

describe('scanDatasetDirectory', () => {
  test('flat layout: classes in Keras order, labels follow it', async () => {
    const root = await fresh('order');
    for (const cls of ['b', '😀', 'a', '\uFFFD', 'Z', 'é']) await touch(root, `${cls}/img.png`);
    const scan = await scanDatasetDirectory(root);
    assert.equal(scan.layout, 'flat');
    assert.equal(scan.wrapper, undefined);
    assert.deepEqual(scan.classes, ['Z', 'a', 'b', 'é', '\uFFFD', '😀']);
    assert.deepEqual(
      rel(root, scan.train),
      scan.classes.map((c, i) => [`${c}/img.png`, i]),
    );
    assert.equal(scan.val, undefined);
  });

  test('junk, stray files, unsupported types, empty classes and symlinks are ignored with reasons', async () => {
    const root = await fresh('junk');
    await touch(root, 'cats/a.png');
    await touch(root, 'cats/B.JPG');
    await touch(root, 'cats/kittens/deep/c.png');
    await touch(root, 'cats/notes.txt', 'hello');
    await touch(root, 'cats/.ipynb_checkpoints/a-checkpoint.png');
    await touch(root, 'cats/.DS_Store', 'x');
    await touch(root, 'dogs/d.jpeg');
    await touch(root, 'dogs/Thumbs.db', 'x');
    await touch(root, '__MACOSX/cats/._a.png', 'x');
    await touch(root, 'README.md', 'read me');
    await touch(root, 'stray.png');
    await mkdir(path.join(root, 'empty'));
    await touch(root, 'onlytext/info.csv', 'a,b');
    await symlink(path.join(root, 'dogs'), path.join(root, 'linked'));
    await symlink(path.join(root, 'cats', 'a.png'), path.join(root, 'dogs', 'link.png'));

    const scan = await scanDatasetDirectory(root);
    assert.deepEqual(scan.classes, ['cats', 'dogs']);
    assert.deepEqual(rel(root, scan.train), [
      ['cats/B.JPG', 0],
      ['cats/a.png', 0],
      ['cats/kittens/deep/c.png', 0],
      ['dogs/d.jpeg', 1],
    ]);
    const reasons = Object.fromEntries(scan.ignored.map((i) => [i.path, i.reason]));
    assert.deepEqual(reasons, {
      __MACOSX: 'hidden or system folder',
      'README.md': 'not inside a class folder',
      'stray.png': 'not inside a class folder',
      empty: 'empty class folder (no image files)',
      linked: 'symbolic link (not followed)',
      onlytext: 'empty class folder (no image files)',
      'onlytext/info.csv': 'unsupported file type (.csv)',
      'cats/.DS_Store': 'hidden or system file',
      'cats/.ipynb_checkpoints': 'hidden or system folder',
      'cats/notes.txt': 'unsupported file type (.txt)',
      'dogs/Thumbs.db': 'hidden or system file',
      'dogs/link.png': 'symbolic link (not followed)',
    });
  });

  test('files inside a class are listed in Keras walk order (folders by path, names sorted)', async () => {
    const root = await fresh('walk');
    for (const f of ['c/z.png', 'c/a.png', 'c/sub/b.png', 'c/sub-x/a.png', 'c/sub/inner/a.png', 'd/a.png']) {
      await touch(root, f);
    }
    const scan = await scanDatasetDirectory(root);
    assert.deepEqual(
      scan.train.map((i) => path.relative(root, i.path)),
      // Folder paths compare as strings, so 'sub-x' ('-' is 0x2d) comes before 'sub/inner' ('/' is 0x2f).
      ['c/a.png', 'c/z.png', 'c/sub/b.png', 'c/sub-x/a.png', 'c/sub/inner/a.png', 'd/a.png'],
    );
  });

  test('one wrapping folder is looked through, junk beside it is ignored', async () => {
    const dir = await fresh('wrapped');
    const dataset = await writeShapesDataset(dir, { perClass: 2, size: 16, layout: 'wrapped', wrapper: 'flowers' });
    await touch(dir, '__MACOSX/flowers/._x.png', 'x');
    await touch(dir, 'LICENSE.txt', 'x');
    const scan = await scanDatasetDirectory(dir);
    assert.equal(scan.wrapper, 'flowers');
    assert.equal(scan.layout, 'flat');
    assert.deepEqual(scan.classes, dataset.classes);
    assert.deepEqual(
      [...scan.train].sort((a, b) => a.path.localeCompare(b.path)),
      [...dataset.train].sort((a, b) => a.path.localeCompare(b.path)),
    );
    assert.deepEqual(scan.ignored.map((i) => i.path).sort(), ['LICENSE.txt', '__MACOSX']);
  });

  test('a single class folder with images directly inside is not mistaken for a wrapper', async () => {
    const root = await fresh('single');
    await touch(root, 'cats/a.png');
    await touch(root, 'cats/more/b.png');
    const scan = await scanDatasetDirectory(root);
    // "more" holds images, so the folder is unwrapped; cats/a.png then sits outside any class.
    assert.equal(scan.wrapper, 'cats');
    assert.deepEqual(scan.classes, ['more']);
    assert.deepEqual(scan.ignored, [{ path: 'cats/a.png', reason: 'not inside a class folder' }]);
    const plain = await fresh('single-plain');
    await touch(plain, 'cats/a.png');
    const plainScan = await scanDatasetDirectory(plain);
    assert.equal(plainScan.wrapper, undefined);
    assert.deepEqual(plainScan.classes, ['cats']);
  });

  test('split layout: train/ + val/, labels from train, test/ ignored', async () => {
    const dir = await fresh('split');
    const dataset = await writeShapesDataset(dir, { perClass: 3, valPerClass: 1, size: 16, layout: 'split' });
    await touch(dir, 'test/circle/x.png');
    await touch(dir, 'train/notes.md', 'x');
    const scan = await scanDatasetDirectory(dir);
    assert.equal(scan.layout, 'split');
    assert.deepEqual(scan.classes, dataset.classes);
    assert.deepEqual(
      new Set(scan.train.map((i) => `${i.path}:${i.label}`)),
      new Set(dataset.train.map((i) => `${i.path}:${i.label}`)),
    );
    assert.deepEqual(
      new Set(scan.val!.map((i) => `${i.path}:${i.label}`)),
      new Set(dataset.val.map((i) => `${i.path}:${i.label}`)),
    );
    assert.deepEqual(scan.ignored, [
      { path: 'test', reason: 'test split is not used' },
      { path: 'train/notes.md', reason: 'not inside a class folder' },
    ]);
  });

  test('split layout inside a wrapper, with validation/ and a train class missing from val', async () => {
    const root = await fresh('split-wrapped');
    await touch(root, 'data/train/a/1.png');
    await touch(root, 'data/train/b/1.png');
    await touch(root, 'data/train/c/1.png');
    await touch(root, 'data/Validation/c/1.png');
    const scan = await scanDatasetDirectory(root);
    assert.equal(scan.wrapper, 'data');
    assert.equal(scan.layout, 'split');
    assert.deepEqual(scan.classes, ['a', 'b', 'c']);
    assert.deepEqual(rel(root, scan.val!), [['data/Validation/c/1.png', 2]]);
  });

  test('split layout without val folder leaves val undefined', async () => {
    const root = await fresh('train-only');
    await touch(root, 'train/a/1.png');
    await touch(root, 'train/b/1.png');
    const scan = await scanDatasetDirectory(root);
    assert.equal(scan.layout, 'split');
    assert.equal(scan.val, undefined);
    assert.equal(scan.train.length, 2);
  });

  test('a val class that is missing in train is an error', async () => {
    const root = await fresh('val-extra');
    await touch(root, 'train/a/1.png');
    await touch(root, 'train/b/1.png');
    await touch(root, 'val/a/1.png');
    await touch(root, 'val/zebra/1.png');
    await assert.rejects(scanDatasetDirectory(root), (err: unknown) => {
      assert.ok(err instanceof DatasetError);
      assert.match(err.message, /'val\/' has class folders missing from 'train\/': 'zebra'/);
      return true;
    });
  });

  test('both val/ and validation/ is ambiguous; a missing root is a clear error', async () => {
    const root = await fresh('two-vals');
    await touch(root, 'train/a/1.png');
    await touch(root, 'val/a/1.png');
    await touch(root, 'validation/a/1.png');
    await assert.rejects(scanDatasetDirectory(root), DatasetError);
    await assert.rejects(scanDatasetDirectory(path.join(tmp, 'nope')), /dataset folder not found/);
  });
});
