import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../../src/compute/tf.js';
import { featureExtractor } from '../../src/model/feature-extractor.js';
import { resolveTrainingConfig } from '../../src/schemas/training-config.js';
import { DropoutControl } from '../../src/training/dropout-control.js';
import { buildTrainingModel } from '../../src/training/model-setup.js';
import { setUpPhase } from '../../src/training/phase-setup.js';
import {
  extractFeatures,
  featureTrainStep,
  headLayersOf,
  imageTrainStep,
  trainableVariables,
} from '../../src/training/training-steps.js';
import { useTestBackend } from '../helpers/tf-backend.js';

// Phase 1 with BN in inference mode trains the head on avg_pool features (cached or computed off the
// tape); that must be the very step the whole model would take, dropout mask included.

describe('head steps on features vs on images', () => {
  before(async () => {
    await useTestBackend();
  });

  test('three Adam steps give the same head weights and losses either way', () => {
    const config = resolveTrainingConfig({
      architecture: 'efficientnet-b0',
      weights: 'none',
      imageSize: 32,
      head: { epochs: 1 },
    });
    const imageSize = 32;
    const models = [buildTrainingModel(config, 4), buildTrainingModel(config, 4)];
    try {
      const [viaImages, viaFeatures] = models.map((model) => {
        setUpPhase(model, 'head', 'inference', undefined);
        return {
          model,
          optimizer: tf.train.adam(0.01),
          variables: trainableVariables(model),
          dropout: new DropoutControl(model),
        };
      });
      const head = headLayersOf(viaFeatures!.model);
      const extractor = featureExtractor(viaFeatures!.model);
      const losses: number[][] = [[], []];
      for (let step = 0; step < 3; step++) {
        const x = tf.tidy(
          () => tf.randomUniform([6, imageSize, imageSize, 3], 0, 255, 'float32', step).dataSync() as Float32Array,
        );
        const batch = { x, y: Int32Array.from([0, 1, 2, 3, 0, 1]), size: 6 };
        viaImages!.dropout.prepareStep(1, 'head', 1, step);
        viaFeatures!.dropout.prepareStep(1, 'head', 1, step);
        losses[0]!.push(
          imageTrainStep(viaImages!.model, viaImages!.optimizer, viaImages!.variables, batch, imageSize).loss,
        );
        const features = extractFeatures(extractor, x, 6, imageSize);
        losses[1]!.push(
          featureTrainStep(head, viaFeatures!.optimizer, viaFeatures!.variables, { ...batch, x: features }, 1280).loss,
        );
      }
      for (let i = 0; i < 3; i++)
        assert.ok(Math.abs(losses[0]![i]! - losses[1]![i]!) < 1e-5, `step ${i}: ${losses[0]![i]} vs ${losses[1]![i]}`);
      const kernel = (m: tf.LayersModel) => m.getLayer('predictions').getWeights()[0]!.dataSync();
      const a = kernel(viaImages!.model);
      const b = kernel(viaFeatures!.model);
      const initial = buildTrainingModel(config, 4);
      const start = kernel(initial);
      initial.dispose();
      let diff = 0;
      let moved = 0;
      for (let i = 0; i < a.length; i++) {
        diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        moved = Math.max(moved, Math.abs(a[i]! - start[i]!));
      }
      assert.ok(diff < 1e-5, `head kernels differ by ${diff}`);
      assert.ok(moved > 1e-3, 'the steps changed the head');
      viaImages!.optimizer.dispose();
      viaFeatures!.optimizer.dispose();
    } finally {
      for (const model of models) model.dispose();
    }
  });
});
