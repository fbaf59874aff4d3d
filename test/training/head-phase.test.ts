import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveTrainingConfig, type TrainingConfig } from '../../src/schemas/training-config.js';
import { buildTrainingModel } from '../../src/training/model-setup.js';
import { ImagenetWeightsMissingError } from '../../src/training/training-errors.js';
import { trainTwoPhase } from '../../src/training/two-phase-trainer.js';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { artifactWeights, maxAbsDiff, writeFakeImagenetWeights, type WeightMap } from './trainer-fixtures.js';

// Phase 1 from "ImageNet" weights (a stand-in .h5 in Keras' layout, see trainer-fixtures.ts): the base,
// BN moving statistics included, comes out exactly as loaded, and the feature cache trains the same head.

const config: TrainingConfig = {
  architecture: 'efficientnet-b0',
  weights: 'imagenet',
  imageSize: 32,
  augmentation: false,
  head: { epochs: 3, batchSize: 8 },
};

describe('phase 1 (head) from ImageNet weights', () => {
  let root: string;
  let dataDir: string;
  let weightsDir: string;
  let fileWeights: WeightMap;

  before(async () => {
    await useTestBackend();
    root = await mkdtemp(path.join(os.tmpdir(), 'effnet-head-'));
    dataDir = (await writeShapesDataset(path.join(root, 'data'), { perClass: 10, size: 32, seed: 8 })).root;
    weightsDir = path.join(root, 'weights');
    await mkdir(weightsDir);
    fileWeights = await writeFakeImagenetWeights(weightsDir, 32);
  });
  after(() => rm(root, { recursive: true, force: true }));

  const train = (name: string, featureCache: boolean) =>
    trainTwoPhase({
      config,
      datasetDir: dataDir,
      workDir: path.join(root, `${name}-work`),
      outputDir: path.join(root, `${name}-model`),
      weightsDir,
      weightsVerify: false,
      featureCache,
    });

  test('BN in inference mode: moving statistics and every base weight stay as loaded; the cache gives the same head', async (t) => {
    const cached = await train('cached', true);
    const direct = await train('direct', false);
    assert.equal(cached.metadata.featureCache.used, true);
    assert.equal(cached.metadata.featureCache.images, 30, 'train and val images');
    assert.equal(direct.metadata.featureCache.used, false);
    assert.equal(cached.metadata.weights.source, 'imagenet');
    assert.equal(cached.metadata.weights.file, 'efficientnetb0_notop.h5');
    assert.equal(cached.metadata.parameters.head!.trainable, 1280 * 3 + 3);

    const weights = await artifactWeights(cached.artifactDir);
    let statistics = 0;
    for (const [name, loaded] of fileWeights) {
      if (name.startsWith('normalization/')) continue;
      const trained = weights.get(name)!;
      assert.deepEqual(trained, loaded, `${name} unchanged`);
      if (/moving_(mean|variance)$/.test(name)) statistics++;
    }
    assert.equal(statistics, 49 * 2, 'all 49 BN layers checked');
    const initial = buildTrainingModel(resolveTrainingConfig(config), 3);
    const initialKernel = initial.getLayer('predictions').getWeights()[0]!.dataSync();
    initial.dispose();
    const kernel = weights.get('predictions/kernel')!;
    assert.ok(
      kernel.some((v, i) => Math.abs(v - initialKernel[i]!) > 1e-3),
      'the head trained',
    );

    const diff = maxAbsDiff(weights, await artifactWeights(direct.artifactDir));
    assert.ok(diff.max < 1e-4, `cached vs direct: max difference ${diff.max} at ${diff.at}`);
    const headMs = (r: typeof cached) => r.metadata.durationsMs.head + r.metadata.durationsMs.featureCache;
    t.diagnostic(
      `head phase: ${direct.metadata.durationsMs.head} ms on images, ${cached.metadata.durationsMs.head} ms on cached ` +
        `features + ${cached.metadata.durationsMs.featureCache} ms to build the cache (total ${headMs(cached)} ms); ` +
        `weights differ by at most ${diff.max.toExponential(2)}`,
    );
  });

  test('a missing weights file is an error naming the file and WEIGHTS_DIR', async () => {
    const error = await trainTwoPhase({
      config: { ...config, architecture: 'efficientnet-b3' },
      datasetDir: dataDir,
      workDir: path.join(root, 'b3-work'),
      outputDir: path.join(root, 'b3-model'),
      weightsDir,
    }).catch((e: unknown) => e);
    assert.ok(error instanceof ImagenetWeightsMissingError, String(error));
    assert.match(error.message, /efficientnetb3_notop\.h5/);
    assert.ok(error.message.includes(weightsDir), error.message);
    assert.match(error.message, /WEIGHTS_DIR/);
  });
});
