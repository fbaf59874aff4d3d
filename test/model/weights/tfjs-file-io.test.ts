import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { tf, type LayersModel, type Tensor } from '../../../src/compute/tf.js';
import { BatchNormalization } from '../../../src/model/batch-normalization.js';
import { buildEfficientNet } from '../../../src/model/efficientnet.js';
import {
  loadLayersModel,
  loadTfjsWeightsInto,
  modelJsonFileName,
  saveLayersModel,
  weightsShardFileName,
} from '../../../src/model/tfjs-file-io.js';
import {
  LayerMissingInFileError,
  WeightsDataSizeError,
  WeightsFileNotFoundError,
} from '../../../src/model/weights/weights-errors.js';
import { useTestBackend } from '../../helpers/tf-backend.js';
import { buildSmallKerasModel, kerasLayersWithPattern } from './small-keras-model.js';
import { assignWeightsByName } from '../../../src/model/weights/assign-weights-by-name.js';

const execFileAsync = promisify(execFile);
let dir: string;

before(async () => {
  await useTestBackend();
  dir = await mkdtemp(path.join(os.tmpdir(), 'tfjs-file-io-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A small model whose weights are all distinct and non-trivial (BN statistics included). */
function patternedSmallModel(): LayersModel {
  const model = buildSmallKerasModel();
  const layers = kerasLayersWithPattern(model).map((l) => ({
    layerName: l.layerName,
    weights: l.weights.map((w) => ({
      name: w.name,
      shape: w.shape,
      // Variances must stay positive for the outputs to be finite.
      read: () => Float32Array.from(w.values, (v) => (/variance/.test(w.name) ? Math.abs(v) + 0.5 : v)),
    })),
  }));
  assignWeightsByName(model, 'pattern', layers);
  return model;
}

function predict(model: LayersModel, input: Tensor): Float32Array {
  return tf.tidy(() => (model.predict(input) as Tensor).dataSync() as Float32Array);
}

function assertClose(actual: Float32Array, expected: Float32Array, tolerance = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance, `index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('saveLayersModel / loadLayersModel', () => {
  test('writes model.json and one shard in the converter format; the loaded model predicts the same', async () => {
    const model = patternedSmallModel();
    const target = path.join(dir, 'small', 'v1');
    await saveLayersModel(model, target);
    assert.deepEqual((await readdir(target)).sort(), [weightsShardFileName, modelJsonFileName].sort());
    assert.deepEqual(
      (await readdir(path.dirname(target))).filter((n) => n.includes('tmp')),
      [],
    );

    const json = JSON.parse(await readFile(path.join(target, modelJsonFileName), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.ok(json.modelTopology);
    assert.equal(json.weightsManifest.length, 1);
    assert.deepEqual(json.weightsManifest[0].paths, [weightsShardFileName]);
    const kernel = json.weightsManifest[0].weights.find((w: { name: string }) => w.name === 'stem_conv/kernel');
    assert.deepEqual(kernel, { name: 'stem_conv/kernel', shape: [3, 3, 3, 4], dtype: 'float32' });

    const loaded = await loadLayersModel(target);
    const input = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 7);
    assertClose(predict(loaded, input), predict(model, input), 0);
    assert.ok(loaded.getLayer('stem_bn') instanceof BatchNormalization);
    input.dispose();
  });

  test('saving over an existing model replaces it and leaves no temp or stale shard files', async () => {
    const target = path.join(dir, 'overwrite');
    await saveLayersModel(buildSmallKerasModel(), target);
    await writeFile(path.join(target, 'group1-shard2of2.bin'), 'stale');
    const model = patternedSmallModel();
    await saveLayersModel(model, target);
    assert.deepEqual((await readdir(target)).sort(), [weightsShardFileName, modelJsonFileName].sort());
    const loaded = await loadLayersModel(path.join(target, modelJsonFileName));
    const input = tf.randomUniform([1, 8, 8, 3], 0, 255, 'float32', 8);
    assertClose(predict(loaded, input), predict(model, input), 0);
    input.dispose();
  });

  test('reads weights split across several shards, as tensorflowjs_converter writes them', async () => {
    const model = patternedSmallModel();
    const target = path.join(dir, 'sharded');
    await saveLayersModel(model, target);
    const json = JSON.parse(await readFile(path.join(target, modelJsonFileName), 'utf8'));
    const data = await readFile(path.join(target, weightsShardFileName));
    const cuts = [0, 100, 333, data.length];
    const paths = cuts.slice(1).map((_, i) => `group1-shard${i + 1}of3.bin`);
    for (let i = 0; i < paths.length; i++)
      await writeFile(path.join(target, paths[i]!), data.subarray(cuts[i], cuts[i + 1]));
    await rm(path.join(target, weightsShardFileName));
    json.weightsManifest = [{ paths, weights: json.weightsManifest[0].weights }];
    await writeFile(path.join(target, modelJsonFileName), JSON.stringify(json));

    const loaded = await loadLayersModel(target);
    const input = tf.randomUniform([1, 8, 8, 3], 0, 255, 'float32', 9);
    assertClose(predict(loaded, input), predict(model, input), 0);
    input.dispose();
  });

  test('a truncated shard is a clear size error, for the model and for weights only', async () => {
    const target = path.join(dir, 'truncated');
    await saveLayersModel(patternedSmallModel(), target);
    const shard = path.join(target, weightsShardFileName);
    const full = (await readFile(shard)).length;
    await truncate(shard, full - 10);
    const error = await loadLayersModel(target).catch((e: unknown) => e);
    assert.ok(error instanceof WeightsDataSizeError);
    assert.equal(error.expectedBytes, full);
    assert.equal(error.actualBytes, full - 10);
    assert.match(error.message, new RegExp(`${weightsShardFileName}.*truncated`));
    await assert.rejects(loadTfjsWeightsInto(buildSmallKerasModel(), target), WeightsDataSizeError);
  });

  test('loading registers the custom layers itself (fresh process importing only tfjs-file-io)', async () => {
    const target = path.join(dir, 'fresh-process');
    await saveLayersModel(buildSmallKerasModel(), target);
    const moduleUrl = (p: string) => pathToFileURL(path.resolve(p)).href;
    const script = [
      `const { selectBackend } = await import(${JSON.stringify(moduleUrl('src/compute/backend.ts'))});`,
      `const { loadLayersModel } = await import(${JSON.stringify(moduleUrl('src/model/tfjs-file-io.ts'))});`,
      `await selectBackend('cpu');`,
      `const model = await loadLayersModel(${JSON.stringify(target)});`,
      `console.log(model.getLayer('stem_bn').getClassName());`,
    ].join('\n');
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    assert.equal(stdout.trim(), 'EffnetBatchNormalization');
  });

  test('a missing model.json or shard names the file', async () => {
    const absent = path.join(dir, 'absent');
    const error = await loadLayersModel(absent).catch((e: unknown) => e);
    assert.ok(error instanceof WeightsFileNotFoundError);
    assert.ok(error.message.includes(path.join(absent, modelJsonFileName)));

    const target = path.join(dir, 'no-shard');
    await saveLayersModel(buildSmallKerasModel(), target);
    await rm(path.join(target, weightsShardFileName));
    const shardError = await loadLayersModel(target).catch((e: unknown) => e);
    assert.ok(shardError instanceof WeightsFileNotFoundError);
    assert.equal(shardError.expectedFileName, weightsShardFileName);
  });
});

describe('loadTfjsWeightsInto', () => {
  test('copies weights by name into a freshly built model', async () => {
    const model = patternedSmallModel();
    const target = path.join(dir, 'weights-only');
    await saveLayersModel(model, target);
    const fresh = buildSmallKerasModel();
    const report = await loadTfjsWeightsInto(fresh, target);
    assert.equal(report.layersLoaded, 7);
    assert.equal(report.weightsLoaded, 17);
    const expected = model.getWeights();
    fresh.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), expected[i]!.dataSync()));
  });

  test('a headless file leaves the head alone; a model with more layers than the file is refused', async () => {
    const target = path.join(dir, 'headless');
    await saveLayersModel(buildSmallKerasModel({ includeHead: false }), target);
    const report = await loadTfjsWeightsInto(buildSmallKerasModel(), target);
    assert.deepEqual(report.skipped, ['predictions']);

    const error = await loadTfjsWeightsInto(buildSmallKerasModel(), target, { headLayers: [] }).catch((e) => e);
    assert.ok(error instanceof LayerMissingInFileError);
    assert.equal(error.layer, 'predictions');
  });
});

/** Outputs of several layers at once: a random-init B0's softmax is ~uniform, its early layers are not. */
function outputsAt(model: LayersModel, layerNames: string[], input: Tensor): Float32Array[] {
  const probe = tf.model({
    inputs: model.inputs,
    outputs: layerNames.map((n) => model.getLayer(n).output as tf.SymbolicTensor),
  });
  return tf.tidy(() => {
    const out = probe.predict(input) as Tensor | Tensor[];
    return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
  });
}

const probeLayers = ['stem_activation', 'block2a_project_bn', 'block4c_add', 'top_activation', 'predictions'];

function assertSameWeights(actual: LayersModel, expected: LayersModel): void {
  const byName = new Map(expected.weights.map((w) => [w.originalName, w]));
  assert.equal(actual.weights.length, expected.weights.length);
  for (const w of actual.weights) {
    const other = byName.get(w.originalName);
    assert.ok(other, `${w.originalName} missing`);
    assert.deepEqual(w.read().dataSync(), other.read().dataSync(), w.originalName);
  }
}

describe('EfficientNet-B0 in the tfjs format', () => {
  test('saved at 32 px and loaded back, every weight and layer output is the same, BN mode kept', async () => {
    const model = buildEfficientNet({ architecture: 'efficientnet-b0', numClasses: 4, imageSize: 32, seed: 11 });
    const input = tf.randomUniform([2, 32, 32, 3], 0, 255, 'float32', 12);
    const target = path.join(dir, 'b0');
    try {
      await saveLayersModel(model, target);
      const loaded = await loadLayersModel(target);
      assertSameWeights(loaded, model);
      const reference = outputsAt(model, probeLayers, input);
      outputsAt(loaded, probeLayers, input).forEach((out, i) => assertClose(out, reference[i]!, 0));
      assert.equal((loaded.getLayer('top_bn') as BatchNormalization).mode, 'inference');
      loaded.dispose();

      const fresh = buildEfficientNet({ architecture: 'b0', numClasses: 4, imageSize: 32, seed: 13 });
      const stemBefore = outputsAt(fresh, ['stem_activation'], input)[0]!;
      assert.ok(
        stemBefore.some((v, i) => Math.abs(v - reference[0]![i]!) > 1e-3),
        'differently seeded models must differ',
      );
      const report = await loadTfjsWeightsInto(fresh, target);
      assert.equal(report.weightsLoaded, model.weights.length);
      assertSameWeights(fresh, model);
      outputsAt(fresh, probeLayers, input).forEach((out, i) => assertClose(out, reference[i]!, 0));
      fresh.dispose();
    } finally {
      input.dispose();
      model.dispose();
    }
  });
});
