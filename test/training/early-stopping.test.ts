import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TrainingConfig } from '../../src/schemas/training-config.js';
import {
  initialEarlyStoppingState,
  updateEarlyStopping,
  type EarlyStoppingState,
} from '../../src/training/early-stopping.js';
import { trainTwoPhase } from '../../src/training/two-phase-trainer.js';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { artifactWeights, maxAbsDiff } from './trainer-fixtures.js';

function feed(losses: number[], settings = { patience: 2, minDelta: 0 }) {
  let state: EarlyStoppingState = initialEarlyStoppingState();
  const decisions: string[] = [];
  losses.forEach((loss, i) => {
    const update = updateEarlyStopping(state, settings, i + 1, loss);
    state = update.state;
    decisions.push(update.decision);
  });
  return { state, decisions };
}

describe('early stopping rules (Keras EarlyStopping on val_loss)', () => {
  test('stops after `patience` epochs without improvement and remembers the best epoch', () => {
    const { state, decisions } = feed([1.0, 0.8, 0.9, 0.85]);
    assert.deepEqual(decisions, ['improved', 'improved', 'continue', 'stop']);
    assert.deepEqual(state, { bestValLoss: 0.8, bestEpoch: 2, wait: 2, stoppedEpoch: 4 });
  });

  test('an improvement smaller than minDelta does not count; patience 0 stops at the first miss', () => {
    assert.deepEqual(feed([1.0, 0.95, 0.5], { patience: 3, minDelta: 0.1 }).decisions, [
      'improved',
      'continue',
      'improved',
    ]);
    assert.deepEqual(feed([1.0, 1.2], { patience: 0, minDelta: 0 }).decisions, ['improved', 'stop']);
  });

  test('a NaN loss is never an improvement', () => {
    assert.deepEqual(feed([1.0, NaN, NaN]).decisions, ['improved', 'continue', 'stop']);
  });
});

describe('early stopping in the trainer', () => {
  let root: string;
  let dataDir: string;
  const base: TrainingConfig = {
    architecture: 'efficientnet-b0',
    weights: 'none',
    imageSize: 32,
    seed: 3,
    augmentation: false,
    head: { epochs: 0 },
  };

  before(async () => {
    await useTestBackend();
    root = await mkdtemp(path.join(os.tmpdir(), 'effnet-es-'));
    dataDir = (await writeShapesDataset(path.join(root, 'data'), { perClass: 6, size: 32, seed: 2 })).root;
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("stops, and the saved model has the best epoch's weights", async () => {
    const run = (name: string, finetune: TrainingConfig['finetune']) =>
      trainTwoPhase({
        config: { ...base, finetune },
        datasetDir: dataDir,
        workDir: path.join(root, `${name}-work`),
        outputDir: path.join(root, `${name}-model`),
        weightsDir: root,
      });
    // minDelta 10 makes every epoch after the first a miss: stop after epoch 2, best is epoch 1.
    const stopped = await run('stopped', {
      epochs: 5,
      batchSize: 8,
      earlyStopping: { patience: 0, minDelta: 10 },
    });
    const es = stopped.metadata.earlyStopping!;
    assert.equal(es.stoppedEpoch, 2);
    assert.equal(es.bestEpoch, 1);
    assert.equal(es.restoredBestEpoch, 1);
    assert.deepEqual(
      stopped.metadata.history.map((h) => `${h.phase}${h.epoch}`),
      ['finetune1', 'finetune2'],
    );
    // Epoch 1 alone, same seed: the weights epoch 1 ended with.
    const one = await run('one', { epochs: 1, batchSize: 8, earlyStopping: false });
    const stoppedWeights = await artifactWeights(stopped.artifactDir);
    const diff = maxAbsDiff(stoppedWeights, await artifactWeights(one.artifactDir));
    assert.ok(diff.max <= 1e-6, `restored weights differ from epoch 1's by ${diff.max} at ${diff.at}`);
    assert.ok(
      Math.abs(stopped.metadata.evaluation!.loss - stopped.metadata.history[0]!.valLoss!) < 1e-5,
      "the evaluation is of epoch 1's weights",
    );
  });
});
