import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../../src/compute/tf.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { configurePhase } from '../../src/model/training-phase.js';
import { DropoutControl } from '../../src/training/dropout-control.js';
import { useTestBackend } from '../helpers/tf-backend.js';

// tfjs' Dropout draws masks from Math.random unless seeded; the trainer seeds it per step.

describe('DropoutControl', () => {
  before(async () => {
    await useTestBackend();
  });

  test('masks are a function of (seed, phase, epoch, batch); frozen layers drop nothing; restore() undoes it', () => {
    const model = buildEfficientNet({
      architecture: 'b0',
      imageSize: 32,
      numClasses: 3,
      seed: 1,
      dropConnectRate: 0.2,
    });
    try {
      const control = new DropoutControl(model);
      assert.ok(control.names.includes('top_dropout') && control.names.includes('block2b_drop'));
      const dropout = model.getLayer('top_dropout');
      const ones = tf.ones([8, 1280]);
      const mask = () => tf.tidy(() => Array.from((dropout.apply(ones, { training: true }) as tf.Tensor).dataSync()));

      configurePhase(model, { phase: 'head', bnMode: 'inference' });
      control.prepareStep(5, 'head', 1, 0);
      const first = mask();
      control.prepareStep(5, 'head', 1, 0);
      assert.deepEqual(mask(), first, 'same step, same mask');
      control.prepareStep(5, 'head', 1, 1);
      assert.notDeepEqual(mask(), first, 'next batch, new mask');
      assert.ok(first.some((v) => v === 0) && first.some((v) => v > 1), 'it does drop (and rescale)');

      const drop = model.getLayer('block2b_drop') as unknown as { rate: number; seed?: number };
      assert.equal(drop.rate, 0, 'drop-connect of the frozen base is off in phase 1');
      configurePhase(model, { phase: 'finetune', bnMode: 'inference', unfreeze: 'block6a' });
      control.prepareStep(5, 'finetune', 1, 0);
      assert.equal(drop.rate, 0, 'block2b stays frozen');
      assert.ok((model.getLayer('block6b_drop') as unknown as { rate: number }).rate > 0, 'block6b trains');

      control.restore();
      assert.ok(drop.rate > 0);
      assert.equal(drop.seed, undefined);
      assert.equal((dropout.getConfig() as { seed?: number }).seed, undefined, 'saved config has no step seed');
      ones.dispose();
    } finally {
      model.dispose();
    }
  });
});
