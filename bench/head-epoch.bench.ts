/**
 * A phase-1 (head) epoch as PhaseRunner runs it, without and with the feature cache, on a small synthetic
 * image set written to a temporary directory (the epoch decodes files through the real batch stream).
 *
 *   node --import tsx bench/head-epoch.bench.ts [--backend wasm] [--size 224] [--images 64] [--batch 8]
 *       [--warmup 1] [--runs 3] [--cached-runs 5] [--classes 10]
 *
 * Phase 1 freezes the base with BatchNormalization in inference mode, so each batch is a plain forward pass
 * through the base (extractFeatures) and a step of the head on its avg_pool vectors (featureTrainStep).
 * With the cache, buildFeatureCache runs the base once per image and every epoch trains on cachedBatches.
 * Emits head-epoch-first (an uncached epoch) and head-epoch-cached, plus the cache's build time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { selectBackend, type BackendPreference } from '../src/compute/backend.js';
import { tf } from '../src/compute/tf.js';
import { createBatchStream } from '../src/data/batch-pipeline.js';
import type { LabeledImage } from '../src/data/dataset-directory.js';
import { buildEfficientNet } from '../src/model/efficientnet.js';
import { featureExtractor } from '../src/model/feature-extractor.js';
import { DropoutControl } from '../src/training/dropout-control.js';
import { createCacheFeatureExtractor } from '../src/training/cache-feature-extractor.js';
import { buildFeatureCache, cachedBatches } from '../src/training/feature-cache.js';
import { createAdam } from '../src/training/fused-adam.js';
import { setUpPhase } from '../src/training/phase-setup.js';
import { extractFeatures, featureTrainStep, headLayersOf, trainableVariables } from '../src/training/training-steps.js';
import { emitResult } from './bench-result.js';
import { timeRuns, timingFields } from './run-timing.js';

const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    size: { type: 'string', default: '224' },
    images: { type: 'string', default: '64' },
    batch: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    'cached-runs': { type: 'string', default: '5' },
    classes: { type: 'string', default: '10' },
    'cache-engine': { type: 'string', default: 'auto' },
  },
});
const engine = opts['cache-engine'] === 'tfjs' ? 'tfjs' : 'auto';
const size = Number(opts.size);
const batchSize = Number(opts.batch);
const numClasses = Number(opts.classes);
const seed = 1;

/** Noise JPEGs, labels round-robin: decoding costs what a real photo of that size costs, near enough. */
async function writeSyntheticImages(dir: string, count: number): Promise<LabeledImage[]> {
  const items: LabeledImage[] = [];
  for (let i = 0; i < count; i++) {
    const raw = Buffer.alloc(size * size * 3);
    for (let j = 0; j < raw.length; j++) raw[j] = (Math.random() * 256) | 0;
    const file = path.join(dir, `image-${i}.jpg`);
    await sharp(raw, { raw: { width: size, height: size, channels: 3 } })
      .jpeg()
      .toFile(file);
    items.push({ path: file, label: i % numClasses });
  }
  return items;
}

const backend = await selectBackend(opts.backend as BackendPreference);
const dir = await mkdtemp(path.join(os.tmpdir(), 'effnet-bench-head-'));
try {
  const items = await writeSyntheticImages(dir, Number(opts.images));
  const model = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses, seed });
  setUpPhase(model, 'head', 'inference', undefined);
  const dropout = new DropoutControl(model);
  const extractor = featureExtractor(model);
  const head = headLayersOf(model);
  const featureDim = (model.getLayer('avg_pool').outputShape as number[])[1]!;
  const optimizer = createAdam(1e-3);
  const variables = trainableVariables(model);
  const stream = createBatchStream({
    items,
    numClasses,
    imageSize: size,
    batchSize,
    shuffle: true,
    seed,
    augmentation: false,
  });

  const uncachedEpoch = async (epoch: number) => {
    for await (const batch of stream.batches(epoch)) {
      dropout.prepareStep(seed, 'head', epoch + 1, batch.index);
      const features = extractFeatures(extractor, batch.x, batch.size, size);
      featureTrainStep(head, optimizer, variables, { ...batch, x: features }, featureDim);
    }
  };
  const first = await timeRuns(uncachedEpoch, { warmup: Number(opts.warmup), runs: Number(opts.runs) });
  const firstFields = timingFields(first, items.length);

  const t0 = performance.now();
  const cacheExtractor = await createCacheFeatureExtractor(extractor, size, engine);
  const cache = await buildFeatureCache(cacheExtractor, items, { numClasses, imageSize: size, batchSize, featureDim });
  await cacheExtractor.release();
  const cacheBuildMs = performance.now() - t0;
  const cachedEpoch = (epoch: number) => {
    for (const batch of cachedBatches(cache, stream.epochOrder(epoch), batchSize)) {
      dropout.prepareStep(seed, 'head', epoch + 1, batch.index);
      featureTrainStep(head, optimizer, variables, batch, featureDim);
    }
  };
  const cached = await timeRuns(cachedEpoch, { warmup: 1, runs: Number(opts['cached-runs']) });

  const common = {
    engine: `tfjs-${backend.name}`,
    imageSize: size,
    batch: batchSize,
    versions: { tfjs: tf.version.tfjs, [backend.name]: backend.version },
  };
  const details = {
    threads: backend.threads ?? 1,
    images: items.length,
    cacheBuildMs: Math.round(cacheBuildMs),
    cachedImages: cache.count,
  };
  emitResult({ task: 'head-epoch-first', ...common, ...firstFields, details });
  emitResult({
    task: 'head-epoch-cached',
    ...common,
    ...timingFields(cached, items.length),
    details: { ...details, cachedShareOfFirst: cached.medianMs / first.medianMs },
  });
  optimizer.dispose();
  model.dispose();
} finally {
  await rm(dir, { recursive: true, force: true });
}
