import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { DatasetError } from '../../src/data/dataset-error.js';
import { TrainingConfigError, type TrainingConfig } from '../../src/schemas/training-config.js';
import { trainTwoPhase } from '../../src/training/two-phase-trainer.js';
import { encodeSolid, TEXT_FILE, truncated, writeShapesDataset } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { useTestBackend } from '../helpers/tf-backend.js';

// What a user's folder throws at the trainer: bad files are skipped and reported, not fatal; a dataset or
// config that cannot work is a clear, typed error before any training.

const quick: TrainingConfig = {
  architecture: 'efficientnet-b0',
  weights: 'none',
  imageSize: 32,
  augmentation: false,
  head: { epochs: 1, batchSize: 8, bnMode: 'inference' },
};

describe('trainTwoPhase on problematic datasets', () => {
  before(async () => {
    await useTestBackend();
  });

  test('corrupt, non-image, truncated and 1×1 files are reported in the metadata and training succeeds', async (t) => {
    const dir = await tempDir(t);
    const data = await writeShapesDataset(path.join(dir, 'data'), { perClass: 5, size: 32, seed: 4 });
    const circle = path.join(data.root, 'circle');
    const good = await encodeSolid([200, 30, 30], { width: 16, format: 'jpeg' });
    await writeFile(path.join(circle, 'notes.txt'), TEXT_FILE);
    await writeFile(path.join(circle, 'text.png'), TEXT_FILE);
    await writeFile(path.join(circle, 'cut.jpg'), truncated(good, 0.4));
    await writeFile(path.join(circle, 'corrupt.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5, 6, 7, 8]));
    await writeFile(path.join(circle, 'pixel.png'), await encodeSolid([1, 2, 3], { width: 1 }));

    const { metadata } = await trainTwoPhase({
      config: quick,
      datasetDir: data.root,
      workDir: path.join(dir, 'work'),
      outputDir: path.join(dir, 'model'),
      weightsDir: dir,
    });
    const skipped = new Map(metadata.dataset.skipped.map((s) => [s.path, s.reason]));
    for (const file of ['notes.txt', 'text.png', 'cut.jpg', 'corrupt.png', 'pixel.png']) {
      assert.ok(skipped.has(`circle/${file}`), `circle/${file} reported (${[...skipped.keys()]})`);
    }
    t.diagnostic([...skipped].map(([p, r]) => `${p}: ${r}`).join('; '));
    assert.equal(metadata.dataset.images, 15);
    assert.equal(metadata.history.length, 1);
  });

  test('a train/ + val/ layout validates on val/ (validationSplit unused)', async (t) => {
    const dir = await tempDir(t);
    const data = await writeShapesDataset(path.join(dir, 'data'), {
      perClass: 6,
      valPerClass: 2,
      layout: 'split',
      seed: 9,
    });
    const { metadata } = await trainTwoPhase({
      config: { ...quick, validationSplit: 0.5 },
      datasetDir: data.root,
      workDir: path.join(dir, 'work'),
      outputDir: path.join(dir, 'model'),
      weightsDir: dir,
    });
    assert.equal(metadata.dataset.validation, 'val-folder');
    assert.equal(metadata.dataset.layout, 'split');
    assert.deepEqual(
      metadata.dataset.classes.map((c) => [c.train, c.val]),
      [
        [6, 2],
        [6, 2],
        [6, 2],
      ],
    );
    assert.equal(metadata.evaluation!.images, 6);
  });

  test('one class is a DatasetError naming what was found', async (t) => {
    const dir = await tempDir(t);
    const only = path.join(dir, 'data', 'cats');
    await mkdir(only, { recursive: true });
    for (let i = 0; i < 3; i++) await writeFile(path.join(only, `c${i}.png`), await encodeSolid([i * 50, 0, 0]));
    const error = await trainTwoPhase({
      config: quick,
      datasetDir: path.join(dir, 'data'),
      workDir: path.join(dir, 'work'),
      outputDir: path.join(dir, 'model'),
      weightsDir: dir,
    }).catch((e: unknown) => e);
    assert.ok(error instanceof DatasetError, String(error));
    assert.match(error.message, /at least 2 classes/);
    assert.match(error.message, /'cats'/);
  });

  test('an invalid config is a TrainingConfigError (HTTP 400) before the dataset is read', async (t) => {
    const dir = await tempDir(t);
    const error = await trainTwoPhase({
      config: { ...quick, finetune: { epochs: 1, unfreeze: 'block9z' } } as TrainingConfig,
      datasetDir: path.join(dir, 'does-not-exist'),
      workDir: path.join(dir, 'work'),
      outputDir: path.join(dir, 'model'),
      weightsDir: dir,
    }).catch((e: unknown) => e);
    assert.ok(error instanceof TrainingConfigError, String(error));
    assert.equal(error.status, 400);
    assert.match(error.message, /unfreeze/);
  });
});
