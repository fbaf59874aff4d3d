import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UnknownArchitectureError } from '../../../src/model/architectures.js';
import { loadKerasH5Weights, resolveImagenetWeightsFile } from '../../../src/model/weights/keras-h5-weights.js';
import {
  InvalidWeightsFileError,
  LayerMissingInFileError,
  UnknownLayerInFileError,
  WeightNamesMismatchError,
  WeightsChecksumError,
  WeightsFileNotFoundError,
  WeightShapeMismatchError,
} from '../../../src/model/weights/weights-errors.js';
import { writeKerasH5, type KerasLayerSpec } from '../../helpers/keras-h5-writer.js';
import { useTestBackend } from '../../helpers/tf-backend.js';
import { buildSmallKerasModel, kerasLayersWithPattern, mismatchedWeights, renameLayer } from './small-keras-model.js';

let dir: string;

before(async () => {
  await useTestBackend();
  dir = await mkdtemp(path.join(os.tmpdir(), 'keras-h5-weights-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCounter = 0;
async function writeFixture(
  layers: KerasLayerSpec[],
  options: Parameters<typeof writeKerasH5>[2] = {},
): Promise<string> {
  const filePath = path.join(dir, `fixture-${fileCounter++}.h5`);
  await writeKerasH5(filePath, layers, options);
  return filePath;
}

const withoutLayer = (layers: KerasLayerSpec[], name: string) => layers.filter((l) => l.layerName !== name);

describe('loadKerasH5Weights on a small Keras-named model', () => {
  for (const nested of [false, true]) {
    for (const strings of ['fixed', 'variable'] as const) {
      test(`every weight lands in its tensor (${nested ? 'model_weights/' : 'root'} layout, ${strings} strings)`, async () => {
        const model = buildSmallKerasModel();
        const layers = kerasLayersWithPattern(model);
        const file = await writeFixture(layers, { nested, strings });
        const report = await loadKerasH5Weights(model, file);
        assert.deepEqual(mismatchedWeights(model, layers), []);
        assert.equal(report.file, file);
        assert.equal(report.layersLoaded, 7);
        assert.equal(report.weightsLoaded, 17);
        assert.deepEqual(report.skipped, []);
        assert.equal(report.verifiedMd5, undefined);
      });
    }
  }

  test('the normalization layer is found by its weights whatever its auto-generated name', async () => {
    const model = buildSmallKerasModel();
    const layers = renameLayer(kerasLayersWithPattern(model), 'normalization', 'normalization_3');
    const file = await writeFixture(layers);
    await loadKerasH5Weights(model, file);
    assert.deepEqual(mismatchedWeights(model, layers, { normalization_3: 'normalization' }), []);
  });

  test('a notop file leaves the head as it was and reports it skipped', async () => {
    const model = buildSmallKerasModel();
    const headBefore = model.getLayer('predictions').getWeights()[0]!.dataSync().slice();
    const layers = withoutLayer(kerasLayersWithPattern(model), 'predictions');
    const report = await loadKerasH5Weights(model, await writeFixture(layers));
    assert.deepEqual(report.skipped, ['predictions']);
    assert.deepEqual(model.getLayer('predictions').getWeights()[0]!.dataSync(), headBefore);
    assert.deepEqual(
      mismatchedWeights(model, layers).filter((n) => !n.startsWith('predictions/')),
      [],
    );
  });

  test('a with-top file loads into a headless model, its head skipped', async () => {
    const layers = kerasLayersWithPattern(buildSmallKerasModel());
    const headless = buildSmallKerasModel({ includeHead: false });
    const report = await loadKerasH5Weights(headless, await writeFixture(layers));
    assert.deepEqual(report.skipped, ['predictions']);
    assert.deepEqual(mismatchedWeights(headless, layers), []);
  });

  test('skipLayers lets a head of another class count keep its own weights', async () => {
    const layers = kerasLayersWithPattern(buildSmallKerasModel({ classes: 3 }));
    const file = await writeFixture(layers);
    await assert.rejects(loadKerasH5Weights(buildSmallKerasModel({ classes: 5 }), file), WeightShapeMismatchError);
    const report = await loadKerasH5Weights(buildSmallKerasModel({ classes: 5 }), file, {
      skipLayers: ['predictions'],
    });
    assert.deepEqual(report.skipped, ['predictions']);
    assert.equal(report.layersLoaded, 6);
  });
});

describe('loadKerasH5Weights errors', () => {
  test('missing file names the path and the expected filename', async () => {
    const missing = path.join(dir, 'efficientnetb0_notop.h5');
    const error = await loadKerasH5Weights(buildSmallKerasModel(), missing).catch((e: unknown) => e);
    assert.ok(error instanceof WeightsFileNotFoundError);
    assert.match(error.message, /efficientnetb0_notop\.h5/);
    assert.ok(error.message.includes(missing));
  });

  test('md5 mismatch names both hashes and WEIGHTS_VERIFY; verify:false loads anyway', async () => {
    const model = buildSmallKerasModel();
    const layers = kerasLayersWithPattern(model);
    const file = await writeFixture(layers);
    const actual = createHash('md5')
      .update(await readFile(file))
      .digest('hex');
    const bogus = '0123456789abcdef0123456789abcdef';
    const error = await loadKerasH5Weights(model, file, { expectedMd5: bogus }).catch((e: unknown) => e);
    assert.ok(error instanceof WeightsChecksumError);
    assert.equal(error.expectedMd5, bogus);
    assert.equal(error.actualMd5, actual);
    assert.match(error.message, new RegExp(`${bogus}.*${actual}`));
    assert.match(error.message, /WEIGHTS_VERIFY=false/);
    assert.deepEqual(mismatchedWeights(model, layers).length, 17, 'nothing is written when the md5 fails');

    const report = await loadKerasH5Weights(model, file, { expectedMd5: bogus, verify: false });
    assert.equal(report.verifiedMd5, undefined);
    assert.deepEqual(mismatchedWeights(model, layers), []);

    const verified = await loadKerasH5Weights(model, file, { expectedMd5: actual.toUpperCase() });
    assert.equal(verified.verifiedMd5, actual);
  });

  test('a file named like a published one is checked against the published md5', async () => {
    const layers = kerasLayersWithPattern(buildSmallKerasModel());
    const published = path.join(dir, 'efficientnetb0_notop.h5');
    await writeKerasH5(published, layers);
    try {
      const error = await loadKerasH5Weights(buildSmallKerasModel(), published).catch((e: unknown) => e);
      assert.ok(error instanceof WeightsChecksumError);
      assert.equal(error.expectedMd5, '50bc09e76180e00e4465e1a485ddc09d');
    } finally {
      await rm(published);
    }
  });

  test('a layer missing in the file is named, and the model is left untouched', async () => {
    const model = buildSmallKerasModel();
    const before = model.getWeights().map((w) => w.dataSync().slice());
    const file = await writeFixture(withoutLayer(kerasLayersWithPattern(model), 'block1a_dwconv'));
    const error = await loadKerasH5Weights(model, file).catch((e: unknown) => e);
    assert.ok(error instanceof LayerMissingInFileError);
    assert.equal(error.layer, 'block1a_dwconv');
    assert.match(error.message, /block1a_dwconv/);
    assert.ok(error.message.includes(file));
    model.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));
  });

  test('a layer the model lacks is an unknown layer', async () => {
    const model = buildSmallKerasModel();
    const layers = [
      ...kerasLayersWithPattern(model),
      { layerName: 'block9z_extra', weights: [{ name: 'kernel', shape: [1], values: [1] }] },
    ];
    const error = await loadKerasH5Weights(model, await writeFixture(layers)).catch((e: unknown) => e);
    assert.ok(error instanceof UnknownLayerInFileError);
    assert.equal(error.layer, 'block9z_extra');
  });

  test('a shape mismatch names file, layer, weight and both shapes', async () => {
    const model = buildSmallKerasModel();
    const layers = kerasLayersWithPattern(model).map((l) =>
      l.layerName === 'stem_conv'
        ? { ...l, weights: [{ name: 'kernel', shape: [3, 3, 3, 5], values: new Float32Array(135) }] }
        : l,
    );
    const file = await writeFixture(layers);
    const error = await loadKerasH5Weights(model, file).catch((e: unknown) => e);
    assert.ok(error instanceof WeightShapeMismatchError);
    assert.equal(error.layer, 'stem_conv');
    assert.equal(error.weight, 'kernel');
    assert.deepEqual(error.expectedShape, [3, 3, 3, 4]);
    assert.deepEqual(error.actualShape, [3, 3, 3, 5]);
    assert.ok(error.message.includes(file));
    assert.match(error.message, /stem_conv.*kernel.*\[3, 3, 3, 4\].*\[3, 3, 3, 5\]/);
  });

  test('a weight the model does not have (a bias where the conv has none) is named', async () => {
    const model = buildSmallKerasModel();
    const layers = kerasLayersWithPattern(model).map((l) =>
      l.layerName === 'stem_conv'
        ? { ...l, weights: [...l.weights, { name: 'bias', shape: [4], values: [1, 2, 3, 4] }] }
        : l,
    );
    const error = await loadKerasH5Weights(model, await writeFixture(layers)).catch((e: unknown) => e);
    assert.ok(error instanceof WeightNamesMismatchError);
    assert.equal(error.layer, 'stem_conv');
    assert.deepEqual(error.onlyInFile, ['bias']);
  });

  test('a file that is not HDF5 is rejected clearly', async () => {
    const file = path.join(dir, 'not-hdf5.h5');
    await writeFile(file, 'definitely not hdf5');
    await assert.rejects(loadKerasH5Weights(buildSmallKerasModel(), file), InvalidWeightsFileError);
  });
});

describe('resolveImagenetWeightsFile', () => {
  test('finds the published file by architecture and top/notop, or names the one expected', async () => {
    const notop = path.join(dir, 'efficientnetb3_notop.h5');
    await writeFile(notop, '');
    try {
      const resolved = await resolveImagenetWeightsFile(dir, 'efficientnet-b3', { includeTop: false });
      assert.equal(resolved.path, notop);
      assert.equal(resolved.md5, 'af6d107764bb5b1abb91932881670226');
      assert.equal((await resolveImagenetWeightsFile(dir, 'b3', { includeTop: false })).path, notop);
      const error = await resolveImagenetWeightsFile(dir, 'b3', { includeTop: true }).catch((e: unknown) => e);
      assert.ok(error instanceof WeightsFileNotFoundError);
      assert.equal(error.expectedFileName, 'efficientnetb3.h5');
      assert.ok(error.message.includes(path.join(dir, 'efficientnetb3.h5')));
    } finally {
      await rm(notop);
    }
    await assert.rejects(resolveImagenetWeightsFile(dir, 'resnet50', { includeTop: false }), UnknownArchitectureError);
  });
});
