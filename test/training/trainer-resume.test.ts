import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tf } from '../../src/compute/tf.js';
import type { TrainingConfig } from '../../src/schemas/training-config.js';
import {
  CheckpointMismatchError,
  TrainingCancelledError,
  TrainingInterruptedError,
} from '../../src/training/training-errors.js';
import type { TrainingProgressEvent } from '../../src/training/progress-events.js';
import type { HistoryEntry } from '../../src/training/training-history.js';
import { trainTwoPhase, type TrainTwoPhaseOptions } from '../../src/training/two-phase-trainer.js';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { artifactWeights, maxAbsDiff, type WeightMap } from './trainer-fixtures.js';

// Checkpoints and determinism: a run stopped (crash after an epoch, or interrupted between batches) and
// resumed ends with the same weights as an uninterrupted run with the same seed. Tiny on purpose:
// 3 classes × 8 images at 32 px, batch 8, with augmentation, dropout, drop-connect and BN 'train' all on,
// since those are what could break determinism.

const config: TrainingConfig = {
  architecture: 'efficientnet-b0',
  weights: 'none',
  imageSize: 32,
  seed: 11,
  head: { epochs: 2, batchSize: 8 },
  finetune: { epochs: 2, batchSize: 8, earlyStopping: false },
};

class Crash extends Error {}

describe('trainTwoPhase checkpoints and resume', () => {
  let root: string;
  let dataDir: string;
  let reference: WeightMap;
  let referenceHistory: HistoryEntry[];
  const tensorsAtEpoch: Array<{ phase: string; epoch: number; tensors: number }> = [];

  const run = (name: string, extra: Partial<TrainTwoPhaseOptions> = {}) =>
    trainTwoPhase({
      config,
      datasetDir: dataDir,
      workDir: path.join(root, `${name}-work`),
      outputDir: path.join(root, `${name}-model`),
      weightsDir: path.join(root, 'none'),
      ...extra,
    });

  before(async () => {
    await useTestBackend();
    root = await mkdtemp(path.join(os.tmpdir(), 'effnet-resume-'));
    dataDir = (await writeShapesDataset(path.join(root, 'data'), { perClass: 8, size: 32, seed: 5 })).root;
  });

  after(() => rm(root, { recursive: true, force: true }));

  test('uninterrupted reference run keeps the number of live tensors flat across epochs', async () => {
    const before = tf.memory().numTensors;
    const result = await run('reference', {
      onProgress: (e) => {
        if (e.type === 'epoch')
          tensorsAtEpoch.push({ phase: e.phase, epoch: e.epoch, tensors: tf.memory().numTensors });
      },
    });
    assert.equal(tf.memory().numTensors, before);
    reference = await artifactWeights(path.join(root, 'reference-model'));
    referenceHistory = result.metadata.history;
    const byPhase = (phase: string) => tensorsAtEpoch.filter((e) => e.phase === phase).map((e) => e.tensors);
    assert.equal(new Set(byPhase('head')).size, 1, `head: ${byPhase('head')}`);
    assert.equal(new Set(byPhase('finetune')).size, 1, `finetune: ${byPhase('finetune')}`);
  });

  test('crash after finetune epoch 1, resume: same weights as the reference', async () => {
    const crash = await run('crash', {
      onProgress: (e) => {
        if (e.type === 'epoch' && e.phase === 'finetune' && e.epoch === 1) throw new Crash('simulated crash');
      },
    }).catch((e: unknown) => e);
    assert.ok(crash instanceof Crash);
    const events: TrainingProgressEvent[] = [];
    const { metadata } = await run('crash', { resume: true, onProgress: (e) => events.push(e) });
    assert.equal(metadata.resumed, true);
    assert.deepEqual(
      events.filter((e) => e.type === 'epoch').map((e) => e.type === 'epoch' && `${e.phase}${e.epoch}`),
      ['finetune2'],
      'only the missing epoch runs',
    );
    assert.equal(metadata.history.length, 4);
    const diff = maxAbsDiff(reference, await artifactWeights(path.join(root, 'crash-model')));
    assert.ok(diff.max <= 1e-6, `max difference ${diff.max} at ${diff.at}`);
  });

  test('interrupted between batches of head epoch 2, resume: same weights as the reference', async () => {
    const interrupt = new AbortController();
    const stopped = await run('pause', {
      interrupt: interrupt.signal,
      onProgress: (e) => {
        if (e.type === 'batch' && e.phase === 'head' && e.epoch === 2 && e.batch === 1) interrupt.abort();
      },
    }).catch((e: unknown) => e);
    assert.ok(stopped instanceof TrainingInterruptedError, String(stopped));
    assert.equal(stopped.epoch, 2);
    assert.equal(stopped.batch, 1);
    const batches: string[] = [];
    await run('pause', {
      resume: true,
      onProgress: (e) => {
        if (e.type === 'batch') batches.push(`${e.phase}${e.epoch}.${e.batch}`);
      },
    });
    assert.deepEqual(batches.slice(0, 2), ['head2.2', 'head2.3'], 'continues at the next batch');
    const diff = maxAbsDiff(reference, await artifactWeights(path.join(root, 'pause-model')));
    assert.ok(diff.max <= 1e-6, `max difference ${diff.max} at ${diff.at}`);
  });

  test('an out-of-memory error retries the epoch from its checkpoint at half the batch size', async () => {
    let thrown = false;
    const { metadata } = await run('oom', {
      onProgress: (e) => {
        // Raised where a step's allocation would fail: inside the epoch, after a batch.
        if (!thrown && e.type === 'batch' && e.phase === 'finetune' && e.epoch === 2 && e.batch === 2) {
          thrown = true;
          throw new RangeError('Array buffer allocation failed');
        }
      },
    });
    assert.deepEqual(metadata.batchSizeReductions, [
      { phase: 'finetune', epoch: 2, fromBatchSize: 8, toBatchSize: 4, reason: 'out-of-memory' },
    ]);
    assert.deepEqual(metadata.batchSizes, { head: 8, finetune: 4 });
    assert.deepEqual(
      metadata.history.map((h) => `${h.phase}${h.epoch}`),
      ['head1', 'head2', 'finetune1', 'finetune2'],
    );
    // The epochs before the failure are those of the reference run.
    const losses = (h: HistoryEntry[]) => h.slice(0, 3).map((e) => [e.loss, e.valLoss]);
    assert.deepEqual(losses(metadata.history), losses(referenceHistory));
  });

  test('cancel stops before the next batch and writes nothing more', async () => {
    const cancel = new AbortController();
    const stateFile = path.join(root, 'cancel-work', 'checkpoint', 'state.json');
    let savedAt = 0;
    const error = await run('cancel', {
      signal: cancel.signal,
      onProgress: (e) => {
        if (e.type === 'batch' && e.phase === 'head' && e.epoch === 2 && e.batch === 1) {
          cancel.abort();
          void stat(stateFile).then((s) => (savedAt = s.mtimeMs));
        }
      },
    }).catch((e: unknown) => e);
    assert.ok(error instanceof TrainingCancelledError, String(error));
    assert.equal((await stat(stateFile)).mtimeMs, savedAt, 'checkpoint untouched after the cancel');
    await assert.rejects(stat(path.join(root, 'cancel-model')), { code: 'ENOENT' });
  });

  test('resume refuses a checkpoint written with another config', async () => {
    const error = await trainTwoPhase({
      config: { ...config, seed: 12 },
      datasetDir: dataDir,
      workDir: path.join(root, 'cancel-work'),
      outputDir: path.join(root, 'other-model'),
      weightsDir: path.join(root, 'none'),
      resume: true,
    }).catch((e: unknown) => e);
    assert.ok(error instanceof CheckpointMismatchError, String(error));
    assert.equal(error.status, 409);
  });
});
