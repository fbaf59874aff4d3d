import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { tf } from '../../src/compute/tf.js';
import { loadTrainedModel } from '../../src/training/trained-model.js';
import type { TrainingProgressEvent } from '../../src/training/progress-events.js';
import { trainTwoPhase } from '../../src/training/two-phase-trainer.js';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { useTestBackend } from '../helpers/tf-backend.js';

// The acceptance test: EfficientNet-B0 from random initialisation, through both phases with the defaults
// for weights 'none' (BN 'train', finetune lr 3e-3, augmentation, early stopping), learns a small
// coloured-shapes dataset. About 20 s on wasm (2 cores).

describe('trainTwoPhase: B0 from random init on coloured shapes (32 px, 3 classes × 40)', () => {
  before(async () => {
    await useTestBackend();
  });

  test('reaches ≥ 0.9 validation accuracy, with history for both phases and a loadable artifact', async (t) => {
    const dir = await tempDir(t);
    const data = await writeShapesDataset(path.join(dir, 'data'), { perClass: 40, size: 32, seed: 3 });
    const events: TrainingProgressEvent[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const started = performance.now();
    const { artifactDir, metadata } = await trainTwoPhase({
      config: {
        architecture: 'efficientnet-b0',
        weights: 'none',
        imageSize: 32,
        head: { epochs: 2, batchSize: 16 },
        finetune: { epochs: 10, batchSize: 16 },
      },
      datasetDir: data.root,
      workDir: path.join(dir, 'work'),
      outputDir: path.join(dir, 'model'),
      weightsDir: path.join(dir, 'no-weights'),
      onProgress: (event) => events.push(event),
    });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor outlives the run');

    const evaluation = metadata.evaluation!;
    t.diagnostic(
      `val accuracy ${evaluation.accuracy.toFixed(3)} in ${seconds.toFixed(1)} s; ` +
        metadata.history
          .map((h) => `${h.phase[0]}${h.epoch}:${h.valAccuracy?.toFixed(2)}@${h.imagesPerSecond.toFixed(0)}img/s`)
          .join(' '),
    );
    assert.ok(evaluation.accuracy >= 0.9, `validation accuracy ${evaluation.accuracy}`);
    assert.equal(evaluation.images, 24);
    assert.deepEqual(
      evaluation.perClass.map((c) => c.support),
      [8, 8, 8],
    );
    assert.equal(
      evaluation.confusionMatrix.flat().reduce((a, b) => a + b, 0),
      24,
    );
    assert.equal(evaluation.top5Accuracy, undefined, 'top-5 only with more than 5 classes');

    const phases = new Set(metadata.history.map((h) => h.phase));
    assert.deepEqual([...phases], ['head', 'finetune']);
    for (const h of metadata.history) {
      assert.ok(Number.isFinite(h.loss) && Number.isFinite(h.valLoss!), `finite losses in ${h.phase} ${h.epoch}`);
      assert.ok(h.durationMs > 0 && h.imagesPerSecond > 0);
    }
    assert.deepEqual(metadata.classes, data.classes);
    assert.equal(metadata.config.finetune && metadata.config.finetune.learningRate, 3e-3);
    assert.equal(metadata.config.head.bnMode, 'train');
    assert.equal(metadata.weights.source, 'none');
    assert.equal(metadata.dataset.validation, 'stratified-split');
    assert.equal(metadata.parameters.head!.trainable, 45859, 'head phase with BN train: head + every gamma/beta');
    assert.equal(metadata.parameters.finetune!.trainable, 4011391);

    // Progress: phase events, one batch event per step, one epoch event per history entry.
    assert.deepEqual(
      events.filter((e) => e.type === 'phase').map((e) => e.type === 'phase' && e.phase),
      ['head', 'finetune'],
    );
    assert.equal(events.filter((e) => e.type === 'epoch').length, metadata.history.length);
    const firstEpochBatches = events.filter((e) => e.type === 'batch' && e.phase === 'head' && e.epoch === 1);
    assert.equal(firstEpochBatches.length, 6, '96 training images in batches of 16');

    // The artifact predicts what the evaluation measured, and gives 1280-wide features.
    const trained = await loadTrainedModel(artifactDir);
    try {
      const x = tf.randomUniform([2, 32, 32, 3], 0, 255, 'float32', 7);
      const p = trained.model.predict(x) as tf.Tensor;
      const f = trained.features.predict(x) as tf.Tensor;
      assert.deepEqual(p.shape, [2, 3]);
      assert.deepEqual(f.shape, [2, 1280]);
      tf.dispose([x, p, f]);
      assert.equal(trained.metadata.featureDim, 1280);
    } finally {
      trained.model.dispose();
    }
  });
});
