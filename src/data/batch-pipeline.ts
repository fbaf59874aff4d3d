/**
 * Turns labelled image files into training batches: decodes ahead of the consumer with bounded memory, shuffles
 * per epoch and augments, all derived from one seed so any epoch (and any batch within it) can be replayed
 * exactly after a restart. No tfjs here: the trainer turns `x` into a tensor.
 *
 * Memory bound: at most `prefetch` batches are allocated and not yet handed out (the one being filled counts),
 * plus at most `decodeConcurrency` decodes in flight. Each batch gets fresh arrays, because tfjs may keep a
 * reference to the array a tensor was created from.
 *
 * Randomness: the epoch order comes from deriveSeed(seed, epoch, 'order'); image k of the epoch is augmented with
 * deriveSeed(seed, epoch, k, 'augment'). Neither depends on decode timing or on where iteration started.
 */
import { availableParallelism } from 'node:os';
import { ImageAugmenter, type AugmentationSetting } from './augmentation.js';
import type { LabeledImage } from './dataset-directory.js';
import { decodeImage, ImageDecodeError, type DecodedImage, type DecodeOptions } from './image-decode.js';
import { SeededRandom, deriveSeed } from './seeded-random.js';

export interface Batch {
  /** size × imageSize × imageSize × 3, RGB, 0..255. */
  x: Float32Array;
  /** size labels. */
  y: Int32Array;
  /** Images in this batch: batchSize, less for the last batch or when bad files were skipped. */
  size: number;
  epoch: number;
  /** Batch index within the epoch. */
  index: number;
}

export type ImageDecoder = (path: string, options: DecodeOptions) => Promise<DecodedImage>;

export interface BatchStreamOptions {
  items: readonly LabeledImage[];
  numClasses: number;
  imageSize: number;
  batchSize: number;
  shuffle: boolean;
  /** Base seed. Alternatively `rng`: one uint32 is drawn from it at creation. One of the two is required. */
  seed?: number;
  rng?: SeededRandom;
  augmentation?: AugmentationSetting;
  /** Batches prepared ahead of the consumer. Default 2. */
  prefetch?: number;
  /** Decodes in flight. Default: available CPUs, at least 2. */
  decodeConcurrency?: number;
  limitInputPixels?: number;
  /** Replaces decodeImage (instrumentation, caching). */
  decode?: ImageDecoder;
}

export interface SkippedImage {
  path: string;
  reason: string;
}

export interface BatchIterationOptions {
  /** Resume inside an epoch: batches before this index are neither decoded nor yielded. */
  startBatch?: number;
}

export class BatchPipelineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchPipelineError';
  }
}

export interface BatchStream extends AsyncIterable<Batch> {
  readonly batchesPerEpoch: number;
  readonly seed: number;
  /** Item indices in the order epoch `epoch` visits them. */
  epochOrder(epoch: number): number[];
  /** Batches of one epoch. Iterating the stream itself is `batches(0)`. */
  batches(epoch: number, options?: BatchIterationOptions): AsyncGenerator<Batch>;
  /** Distinct bad files met so far (each is also skipped in later epochs). */
  readonly skipped: readonly SkippedImage[];
  /** Skips counted every time they happen, across epochs. */
  readonly skipCount: number;
}

interface PendingBatch {
  x: Float32Array;
  y: Int32Array;
  ok: Uint8Array;
  remaining: number;
  done: Promise<void>;
  resolve: () => void;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new BatchPipelineError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export function createBatchStream(options: BatchStreamOptions): BatchStream {
  const { items, shuffle, augmentation } = options;
  const imageSize = positiveInt('imageSize', options.imageSize);
  const batchSize = positiveInt('batchSize', options.batchSize);
  const prefetch = positiveInt('prefetch', options.prefetch ?? 2);
  const decodeConcurrency = positiveInt(
    'decodeConcurrency',
    options.decodeConcurrency ?? Math.max(2, availableParallelism()),
  );
  const numClasses = positiveInt('numClasses', options.numClasses);
  items.forEach((item, i) => {
    if (!Number.isInteger(item.label) || item.label < 0 || item.label >= numClasses) {
      throw new BatchPipelineError(`item ${i} (${item.path}) has label ${item.label}, expected 0..${numClasses - 1}`);
    }
  });
  if (options.seed === undefined && !options.rng)
    throw new BatchPipelineError('createBatchStream needs a seed or an rng');
  const seed = options.seed ?? options.rng!.nextUint32();
  const decode = options.decode ?? decodeImage;
  const decodeOptions: DecodeOptions = { size: imageSize, limitInputPixels: options.limitInputPixels };
  const pixelsPerImage = imageSize * imageSize * 3;
  const augmenter = new ImageAugmenter(augmentation, imageSize, imageSize);
  const batchesPerEpoch = Math.ceil(items.length / batchSize);
  const skippedByPath = new Map<string, string>();
  let skipCount = 0;

  const epochOrder = (epoch: number): number[] => {
    const order = items.map((_, i) => i);
    if (shuffle) new SeededRandom(deriveSeed(seed, epoch, 'order')).shuffle(order);
    return order;
  };

  async function* batches(epoch: number, iteration: BatchIterationOptions = {}): AsyncGenerator<Batch> {
    if (!Number.isInteger(epoch) || epoch < 0)
      throw new BatchPipelineError(`epoch must be an integer >= 0, got ${epoch}`);
    const startBatch = iteration.startBatch ?? 0;
    if (!Number.isInteger(startBatch) || startBatch < 0) {
      throw new BatchPipelineError(`startBatch must be an integer >= 0, got ${startBatch}`);
    }
    const order = epochOrder(epoch);
    const pending = new Map<number, PendingBatch>();
    let nextPosition = startBatch * batchSize;
    let firstUnconsumed = startBatch;
    let inFlight = 0;
    let stopped = false;
    let failure: { error: unknown } | undefined;

    const pendingBatch = (index: number): PendingBatch => {
      let batch = pending.get(index);
      if (!batch) {
        const count = Math.min(batchSize, order.length - index * batchSize);
        let resolve!: () => void;
        const done = new Promise<void>((r) => (resolve = r));
        batch = {
          x: new Float32Array(count * pixelsPerImage),
          y: new Int32Array(count),
          ok: new Uint8Array(count),
          remaining: count,
          done,
          resolve,
        };
        pending.set(index, batch);
      }
      return batch;
    };

    const fill = async (position: number, batch: PendingBatch, slot: number): Promise<void> => {
      const item = items[order[position]];
      try {
        const image = await decode(item.path, decodeOptions);
        if (stopped) return;
        const offset = slot * pixelsPerImage;
        if (image.data.length !== pixelsPerImage) {
          throw new BatchPipelineError(
            `decoder returned ${image.data.length} values for ${item.path}, expected ${pixelsPerImage}`,
          );
        }
        batch.x.set(image.data, offset);
        augmenter.apply(batch.x, offset, new SeededRandom(deriveSeed(seed, epoch, position, 'augment')));
        batch.y[slot] = item.label;
        batch.ok[slot] = 1;
      } catch (error) {
        if (!(error instanceof ImageDecodeError)) {
          failure ??= { error };
          return;
        }
        skipCount++;
        if (!skippedByPath.has(item.path)) skippedByPath.set(item.path, error.reason);
      }
    };

    // Starts decodes while both the in-flight and the prefetched-batch budgets allow.
    const pump = (): void => {
      while (!stopped && inFlight < decodeConcurrency && nextPosition < order.length) {
        const index = Math.floor(nextPosition / batchSize);
        if (index >= firstUnconsumed + prefetch) return;
        const batch = pendingBatch(index);
        const position = nextPosition++;
        inFlight++;
        void fill(position, batch, position - index * batchSize).finally(() => {
          inFlight--;
          if (--batch.remaining === 0) batch.resolve();
          pump();
        });
      }
    };

    try {
      for (let index = startBatch; index < batchesPerEpoch; index++) {
        pump();
        const batch = pendingBatch(index);
        pump();
        await batch.done;
        if (failure) throw failure.error;
        pending.delete(index);
        firstUnconsumed = index + 1;
        pump();
        const result = compact(batch, pixelsPerImage);
        if (result.size > 0) yield { ...result, epoch, index };
      }
    } finally {
      stopped = true;
    }
  }

  return {
    batchesPerEpoch,
    seed,
    epochOrder,
    batches,
    get skipped() {
      return [...skippedByPath].map(([path, reason]) => ({ path, reason }));
    },
    get skipCount() {
      return skipCount;
    },
    [Symbol.asyncIterator]: () => batches(0),
  };
}

/** Drops the slots of skipped images (rare), keeping order. */
function compact(batch: PendingBatch, pixelsPerImage: number): { x: Float32Array; y: Int32Array; size: number } {
  const kept = batch.ok.reduce((n, ok) => n + ok, 0);
  if (kept === batch.ok.length) return { x: batch.x, y: batch.y, size: kept };
  const x = new Float32Array(kept * pixelsPerImage);
  const y = new Int32Array(kept);
  let k = 0;
  batch.ok.forEach((ok, slot) => {
    if (!ok) return;
    x.set(batch.x.subarray(slot * pixelsPerImage, (slot + 1) * pixelsPerImage), k * pixelsPerImage);
    y[k++] = batch.y[slot];
  });
  return { x, y, size: k };
}
