import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { listBatchImages } from '../../src/batch/batch-images.js';
import { tempDir } from '../helpers/temp-dir.js';

async function files(root: string, names: string[]): Promise<void> {
  for (const name of names) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), 'x');
  }
}

const summary = async (root: string) =>
  (await listBatchImages(root)).map((image) => {
    assert.equal(image.file, path.join(root, ...image.path.split('/')));
    return [image.path, image.class];
  });

test('class folders keep their class, in the order training reads them (train/ then val/)', async (t) => {
  const root = await tempDir(t);
  await files(root, ['train/b/2.png', 'train/a/1.jpg', 'train/a/sub/0.png', 'val/b/9.png', 'train/a/notes.txt']);
  assert.deepEqual(await summary(root), [
    ['train/a/1.jpg', 'a'],
    ['train/a/sub/0.png', 'a'],
    ['train/b/2.png', 'b'],
    ['val/b/9.png', 'b'],
  ]);
});

test('images outside class folders (also through one wrapping folder) have class null; junk and links are left out', async (t) => {
  const root = await tempDir(t);
  await files(root, [
    'photos/z.png',
    'photos/B.jpg',
    'photos/2024/a.webp',
    'photos/.hidden.png',
    'photos/__MACOSX/x.png',
  ]);
  await symlink(path.join(root, 'photos/z.png'), path.join(root, 'photos/link.png'));
  assert.deepEqual(await summary(root), [
    ['photos/2024/a.webp', null],
    ['photos/B.jpg', null],
    ['photos/z.png', null],
  ]);
  const flat = await tempDir(t);
  await files(flat, ['b.png', 'a.png', 'more/c.png']);
  assert.deepEqual(await summary(flat), [
    ['a.png', null],
    ['b.png', null],
    ['more/c.png', null],
  ]);
});
