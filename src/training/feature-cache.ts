import type { LabeledImage } from '../data/dataset-directory.js';
import { createBatchStream } from '../data/batch-pipeline.js';
import type { BatchFeatureExtractor } from './cache-feature-extractor.js';

/**
 * Phase-1 feature cache. With the base frozen and its BatchNormalization in inference mode (and its
 * drop-connect off, see dropout-control.ts), the base maps each image to the same avg_pool vector in every
 * epoch, so it is computed once per image and the head trains on the vectors: an epoch then costs a few
 * matrix products instead of a full forward and backward pass through the base. For training images this
 * needs augmentation off (augmented images differ every epoch); validation images are never augmented,
 * so their features are cached whenever BN is in inference mode.
 *
 * cachedBatches() yields exactly the batches the image stream would: same epoch order (the stream's
 * seeded epochOrder), same batch boundaries, same skipped files, same batch indices (which seed dropout).
 */

export interface FeatureCache {
  featureDim: number;
  /** Row i holds the features of item i; valid[i] is 0 when the image could not be decoded. */
  features: Float32Array;
  labels: Int32Array;
  valid: Uint8Array;
  count: number;
}

export interface FeatureBatch {
  x: Float32Array;
  y: Int32Array;
  size: number;
  index: number;
}

/** Bytes above which the cache is not built (the phase then runs on images). */
export const maxFeatureCacheBytes = 1024 ** 3;

export function featureCacheBytes(images: number, featureDim: number): number {
  return images * featureDim * 4;
}

export async function buildFeatureCache(
  extractor: Pick<BatchFeatureExtractor, 'extract'>,
  items: readonly LabeledImage[],
  options: {
    numClasses: number;
    imageSize: number;
    batchSize: number;
    featureDim: number;
    shouldStop?: () => void;
  },
): Promise<FeatureCache> {
  const { featureDim, imageSize } = options;
  const features = new Float32Array(items.length * featureDim);
  const labels = new Int32Array(items.length);
  const valid = new Uint8Array(items.length);
  const stream = createBatchStream({
    items,
    numClasses: options.numClasses,
    imageSize,
    batchSize: options.batchSize,
    shuffle: false,
    seed: 0,
    augmentation: false,
  });
  for await (const batch of stream.batches(0)) {
    options.shouldStop?.();
    const skipped = new Set(stream.skipped.map((s) => s.path));
    const start = batch.index * options.batchSize;
    const indices: number[] = [];
    for (let i = start; i < Math.min(start + options.batchSize, items.length); i++) {
      if (!skipped.has(items[i]!.path)) indices.push(i);
    }
    const rows = await extractor.extract(batch.x, batch.size);
    indices.forEach((item, row) => {
      features.set(rows.subarray(row * featureDim, (row + 1) * featureDim), item * featureDim);
      labels[item] = batch.y[row]!;
      valid[item] = 1;
    });
  }
  return { featureDim, features, labels, valid, count: valid.reduce((a, b) => a + b, 0) };
}

/** The batches of epoch `epoch` (0-based, as the stream counts) from `startBatch` on, from the cache. */
export function* cachedBatches(
  cache: FeatureCache,
  order: readonly number[],
  batchSize: number,
  startBatch = 0,
): Generator<FeatureBatch> {
  const batches = Math.ceil(order.length / batchSize);
  const d = cache.featureDim;
  for (let index = startBatch; index < batches; index++) {
    const members = order.slice(index * batchSize, (index + 1) * batchSize).filter((i) => cache.valid[i]);
    if (members.length === 0) continue;
    const x = new Float32Array(members.length * d);
    const y = new Int32Array(members.length);
    members.forEach((item, row) => {
      x.set(cache.features.subarray(item * d, (item + 1) * d), row * d);
      y[row] = cache.labels[item]!;
    });
    yield { x, y, size: members.length, index };
  }
}

/** Batches of the whole cache in item order (for validation). */
export function allCachedBatches(cache: FeatureCache, batchSize: number): Generator<FeatureBatch> {
  return cachedBatches(
    cache,
    Array.from({ length: cache.valid.length }, (_, i) => i),
    batchSize,
  );
}
