import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LayersModel } from '../../src/compute/tf.js';
import { BatchNormalization } from '../../src/model/batch-normalization.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { configurePhase, isBaseLayer, layerTrainability, UnknownBlockError } from '../../src/model/training-phase.js';
import { useTestBackend } from '../helpers/tf-backend.js';

function trainableLayers(model: LayersModel): Set<string> {
  return new Set(model.trainableWeights.map((w) => w.originalName.split('/')[0]!));
}

function batchNorms(model: LayersModel): BatchNormalization[] {
  return model.layers.filter((l): l is BatchNormalization => l instanceof BatchNormalization);
}

describe('configurePhase', () => {
  let model: LayersModel;

  before(async () => {
    await useTestBackend();
    model = buildEfficientNet({ architecture: 'b0', imageSize: 32, numClasses: 5 });
  });

  after(() => model.dispose());

  test('head phase: only the classifier trains, BN stays in inference mode', () => {
    configurePhase(model, { phase: 'head', bnMode: 'inference' });
    assert.deepEqual([...trainableLayers(model)], ['predictions']);
    assert.ok(batchNorms(model).every((bn) => bn.mode === 'inference' && !bn.trainable));
  });

  test('head phase with bnMode train: every gamma and beta trains too, BN uses batch statistics', () => {
    configurePhase(model, { phase: 'head', bnMode: 'train' });
    const bns = batchNorms(model);
    assert.equal(bns.length, 49);
    const expected = new Set(['predictions', ...bns.map((bn) => bn.name)]);
    assert.deepEqual(trainableLayers(model), expected);
    assert.ok(bns.every((bn) => bn.mode === 'train'));
    const names = model.trainableWeights.map((w) => w.originalName.split('/')[1]);
    assert.ok(!names.includes('moving_mean') && !names.includes('moving_variance'));
  });

  test('finetune phase: everything but the normalization constants and BN moving statistics trains', () => {
    model.trainable = false; // a frozen container must not hide the per-layer flags
    configurePhase(model, { phase: 'finetune', bnMode: 'inference' });
    const withWeights = model.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
    assert.deepEqual(trainableLayers(model), new Set(withWeights.filter((n) => n !== 'normalization')));
    assert.ok(
      model.nonTrainableWeights.every((w) =>
        /\/(moving_mean|moving_variance|mean|variance|count)$/.test(w.originalName),
      ),
    );
  });

  test('finetune from block6a: that block onward, top_conv/top_bn and the head', () => {
    configurePhase(model, { phase: 'finetune', bnMode: 'train', unfreeze: 'block6a' });
    const trainable = trainableLayers(model);
    for (const name of [
      'block6a_expand_conv',
      'block6a_bn',
      'block6d_se_reduce',
      'block7a_project_bn',
      'top_conv',
      'top_bn',
      'predictions',
    ]) {
      assert.ok(trainable.has(name), `${name} trains`);
    }
    for (const name of ['stem_conv', 'stem_bn', 'block1a_dwconv', 'block5c_project_conv', 'block5c_project_bn']) {
      assert.ok(!trainable.has(name), `${name} is frozen`);
    }
    assert.ok(batchNorms(model).every((bn) => bn.mode === 'train'));
  });

  test('an unknown block is rejected before anything changes', () => {
    configurePhase(model, { phase: 'head', bnMode: 'inference' });
    for (const bad of ['block6e', 'block9a', 'top_conv', 'block6']) {
      assert.throws(
        () => configurePhase(model, { phase: 'finetune', bnMode: 'train', unfreeze: bad }),
        UnknownBlockError,
      );
    }
    assert.deepEqual([...trainableLayers(model)], ['predictions']);
  });

  test('layerTrainability classifies base and head by name', () => {
    assert.ok(isBaseLayer('block3b_se_excite') && isBaseLayer('top_activation') && isBaseLayer('rescaling_1'));
    assert.ok(!isBaseLayer('top_dropout') && !isBaseLayer('predictions') && !isBaseLayer('my_dense'));
    const finetune6b = { phase: 'finetune', bnMode: 'inference', unfreeze: 'block6b' } as const;
    assert.equal(layerTrainability('block6a_bn', true, finetune6b), false);
    assert.equal(layerTrainability('block6b_bn', true, finetune6b), true);
    assert.equal(layerTrainability('block10a_dwconv', false, finetune6b), true);
    assert.equal(layerTrainability('normalization', false, { phase: 'finetune', bnMode: 'train' }), false);
  });
});
