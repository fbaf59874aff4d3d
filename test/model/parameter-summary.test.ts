import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, type LayersModel } from '../../src/compute/tf.js';
import { architectures, getArchitecture } from '../../src/model/architectures.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { parameterSummary, phaseSummaries, predictedSummary } from '../../src/model/parameter-summary.js';
import { configurePhase, UnknownBlockError, type PhaseOptions } from '../../src/model/training-phase.js';
import { weightManifest } from '../../src/model/weight-manifest.js';
import { useTestBackend } from '../helpers/tf-backend.js';

const numClasses = 50;

/** A block in the middle of every variant's stage 6 to unfreeze from. */
const unfreezeFrom = 'block6b';

const phases: PhaseOptions[] = [
  { phase: 'head', bnMode: 'inference' },
  { phase: 'head', bnMode: 'train' },
  { phase: 'finetune', bnMode: 'inference' },
  { phase: 'finetune', bnMode: 'train', unfreeze: unfreezeFrom },
];

function manifestOf(model: LayersModel): string[] {
  return model.layers.flatMap((layer) => layer.weights.map((w) => `${w.originalName} ${JSON.stringify(w.shape)}`));
}

describe('parameter counts', () => {
  before(async () => {
    await useTestBackend();
  });

  test('the article table for B5 with 50 classes, without building the model', () => {
    const summaries = phaseSummaries('efficientnet-b5', 50);
    assert.deepEqual(summaries.head, { total: 28615970, trainable: 102450, nonTrainable: 28513520 });
    assert.deepEqual(summaries.finetune, { total: 28615970, trainable: 28443234, nonTrainable: 172736 });
  });

  test('unknown unfreeze points are rejected', () => {
    assert.throws(() => phaseSummaries('b0', 2, { unfreeze: 'block6e' }), UnknownBlockError); // B0 stops at 6d
    assert.throws(() => phaseSummaries('b0', 2, { unfreeze: 'top_conv' }), UnknownBlockError);
    assert.equal(phaseSummaries('b7', 2, { unfreeze: 'block6m' }).finetune.total, phaseSummaries('b7', 2).head.total);
  });

  for (const arch of architectures) {
    test(`${arch.name}: built model matches Keras counts, feature width and the predicted phase summaries`, () => {
      const tensorsBefore = tf.memory().numTensors;
      const model = buildEfficientNet({ architecture: arch, imageSize: 32, numClasses });
      try {
        const headParams = arch.featureDim * numClasses + numClasses;
        const all = parameterSummary(model);
        assert.equal(all.total - headParams, arch.baseParams, 'base parameters');
        assert.equal(model.countParams() - 7, all.total, 'only the 7 normalization constants are left out');
        assert.deepEqual(model.getLayer('avg_pool').outputShape, [null, arch.featureDim]);
        assert.deepEqual(
          manifestOf(model),
          weightManifest(arch, { numClasses }).map((e) => `${e.layer}/${e.weight} ${JSON.stringify(e.shape)}`),
          'weights, per layer in Keras order',
        );
        for (const options of phases) {
          configurePhase(model, options);
          assert.deepEqual(
            parameterSummary(model),
            predictedSummary(arch, numClasses, options),
            JSON.stringify(options),
          );
        }
        const summaries = phaseSummaries(arch.name, numClasses, { headBnMode: 'train', unfreeze: unfreezeFrom });
        assert.deepEqual(summaries.head, predictedSummary(arch, numClasses, phases[1]!));
        assert.deepEqual(summaries.finetune, predictedSummary(arch, numClasses, phases[3]!));
      } finally {
        model.dispose();
      }
      assert.equal(tf.memory().numTensors, tensorsBefore, 'every tensor of the build was freed');
    });
  }

  test('the B5 article table holds on the built model too', () => {
    const model = buildEfficientNet({ architecture: getArchitecture('b5'), imageSize: 32, numClasses: 50 });
    configurePhase(model, { phase: 'head', bnMode: 'inference' });
    assert.deepEqual(parameterSummary(model), { total: 28615970, trainable: 102450, nonTrainable: 28513520 });
    configurePhase(model, { phase: 'finetune', bnMode: 'inference' });
    assert.deepEqual(parameterSummary(model), { total: 28615970, trainable: 28443234, nonTrainable: 172736 });
    model.dispose();
  });
});
