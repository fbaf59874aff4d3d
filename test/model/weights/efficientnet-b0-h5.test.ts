import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LayersModel } from '../../../src/compute/tf.js';
import { getArchitecture } from '../../../src/model/architectures.js';
import { buildEfficientNet } from '../../../src/model/efficientnet.js';
import { sizeOf, weightManifest } from '../../../src/model/weight-manifest.js';
import { loadKerasH5Weights } from '../../../src/model/weights/keras-h5-weights.js';
import { LayerMissingInFileError, WeightShapeMismatchError } from '../../../src/model/weights/weights-errors.js';
import { writeKerasH5, type KerasLayerSpec } from '../../helpers/keras-h5-writer.js';
import { useTestBackend } from '../../helpers/tf-backend.js';
import { mismatchedWeights, patternValues, renameLayer } from './small-keras-model.js';

// A B0 `_notop.h5` in keras.applications' layout, with every weight a distinct known pattern, loaded into
// our B0. Layer names and order come from the model (weightless layers included, as Keras writes them);
// weight names and shapes from the Keras weight manifest, so the file does not echo the tfjs build.

const b0 = getArchitecture('efficientnet-b0');
let dir: string;
let notopLayers: KerasLayerSpec[];

function kerasB0Layers(model: LayersModel, includeHead: boolean): KerasLayerSpec[] {
  const manifest = weightManifest(b0, { includeHead, numClasses: 1000 });
  let seed = 1;
  return model.layers.map((layer) => ({
    layerName: layer.name === 'input_layer' ? 'input_1' : layer.name,
    weights: manifest
      .filter((e) => e.layer === layer.name)
      .map((e) =>
        e.weight === 'count'
          ? { name: e.weight, shape: e.shape, values: [1281167], dtype: 'int64' as const }
          : { name: e.weight, shape: e.shape, values: patternValues(seed++, sizeOf(e.shape)) },
      ),
  }));
}

const buildNotop = (seed: number) =>
  buildEfficientNet({ architecture: 'efficientnet-b0', includeHead: false, imageSize: 32, seed });

before(async () => {
  await useTestBackend();
  dir = await mkdtemp(path.join(os.tmpdir(), 'effnet-b0-h5-'));
  const reference = buildNotop(1);
  // Keras names the Normalization layer by instance count; the published files need not say `normalization`.
  notopLayers = renameLayer(kerasB0Layers(reference, false), 'normalization', 'normalization_3');
  reference.dispose();
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('EfficientNet-B0 from a Keras _notop.h5', () => {
  for (const nested of [false, true]) {
    test(`every weight of every layer lands in its tensor (${nested ? 'model_weights/' : 'root'} layout)`, async () => {
      const file = path.join(dir, `efficientnetb0_notop-${nested ? 'nested' : 'root'}.h5`);
      await writeKerasH5(file, notopLayers, { nested });
      const model = buildNotop(2);
      try {
        const report = await loadKerasH5Weights(model, file, { verify: false });
        const weighted = notopLayers.filter((l) => l.weights.length > 0);
        assert.equal(report.layersLoaded, weighted.length);
        assert.equal(
          report.weightsLoaded,
          weighted.reduce((n, l) => n + l.weights.length, 0),
        );
        assert.equal(report.weightsLoaded, model.weights.length);
        assert.deepEqual(report.skipped, []);
        assert.deepEqual(mismatchedWeights(model, notopLayers, { normalization_3: 'normalization' }), []);
      } finally {
        model.dispose();
      }
    });
  }

  test('a with-top efficientnetb0.h5 fills a 1000-class head, and a headless model skips it', async () => {
    const file = path.join(dir, 'efficientnetb0-top.h5');
    const withHead = buildEfficientNet({
      architecture: 'b0',
      includeHead: true,
      numClasses: 1000,
      imageSize: 32,
      seed: 5,
    });
    const headless = buildNotop(6);
    try {
      const topLayers = renameLayer(kerasB0Layers(withHead, true), 'normalization', 'normalization_1');
      await writeKerasH5(file, topLayers, { nested: true });
      const full = await loadKerasH5Weights(withHead, file);
      assert.deepEqual(full.skipped, []);
      assert.equal(full.weightsLoaded, withHead.weights.length);
      assert.deepEqual(mismatchedWeights(withHead, topLayers, { normalization_1: 'normalization' }), []);

      const base = await loadKerasH5Weights(headless, file);
      assert.deepEqual(base.skipped, ['predictions']);
      assert.deepEqual(mismatchedWeights(headless, topLayers, { normalization_1: 'normalization' }), []);
    } finally {
      withHead.dispose();
      headless.dispose();
    }
  });

  test('a layer missing from the file is named', async () => {
    const file = path.join(dir, 'missing-layer.h5');
    await writeKerasH5(
      file,
      notopLayers.filter((l) => l.layerName !== 'block2a_expand_conv'),
    );
    const model = buildNotop(3);
    try {
      const error = await loadKerasH5Weights(model, file).catch((e: unknown) => e);
      assert.ok(error instanceof LayerMissingInFileError);
      assert.equal(error.layer, 'block2a_expand_conv');
    } finally {
      model.dispose();
    }
  });

  test('a shape mismatch names the layer, weight and both shapes', async () => {
    const file = path.join(dir, 'bad-shape.h5');
    const layers = notopLayers.map((l) =>
      l.layerName === 'block6d_se_reduce'
        ? {
            ...l,
            weights: [
              { ...l.weights[0]!, shape: [1, 1, 1152, 40], values: new Float32Array(1152 * 40) },
              l.weights[1]!,
            ],
          }
        : l,
    );
    await writeKerasH5(file, layers);
    const model = buildNotop(4);
    try {
      const error = await loadKerasH5Weights(model, file).catch((e: unknown) => e);
      assert.ok(error instanceof WeightShapeMismatchError);
      assert.equal(error.layer, 'block6d_se_reduce');
      assert.equal(error.weight, 'kernel');
      assert.deepEqual(error.expectedShape, [1, 1, 1152, 48]);
      assert.deepEqual(error.actualShape, [1, 1, 1152, 40]);
      assert.match(error.message, /block6d_se_reduce.*kernel/);
    } finally {
      model.dispose();
    }
  });
});
