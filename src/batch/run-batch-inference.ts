import { decodeImage, ImageDecodeError } from '../data/image-decode.js';
import type { InferenceEngine, LoadedModel } from '../inference/inference-engine.js';
import type { BatchImage } from './batch-images.js';
import type { BatchOutput } from './batch-output.js';

/** Why a batch run stopped early: the signal it was given was aborted (cancel, or a worker shutting down). */
export class BatchRunAbortedError extends Error {
  constructor(readonly processed: number) {
    super(`batch run stopped after ${processed} images`);
    this.name = 'BatchRunAbortedError';
  }
}

export interface BatchRunProgress {
  processed: number;
  total: number;
  rows: number;
  skipped: number;
}

export interface RunBatchInferenceOptions {
  images: readonly BatchImage[];
  engine: InferenceEngine;
  model: LoadedModel;
  output: BatchOutput;
  /** Images per forward pass; every pass but the last is full. */
  batchSize: number;
  limitInputPixels?: number;
  /** Checked before every forward pass. */
  signal?: AbortSignal;
  /** Called after every forward pass. */
  onProgress?: (progress: BatchRunProgress) => void;
}

type Decoded = { image: BatchImage; pixels: Uint8Array } | { image: BatchImage; reason: string } | { error: unknown };

/**
 * Streams images through a loaded model into `output`. Images are decoded ahead (at most two batches in
 * flight, on sharp's thread pool, overlapping the forward pass), collected into full batches in input order,
 * run, and written at once; images that cannot be decoded are recorded as skipped. Memory is bounded by the
 * batch size, whatever the number of images.
 */
export async function runBatchInference(options: RunBatchInferenceOptions): Promise<BatchRunProgress> {
  const { images, engine, model, output, batchSize, signal } = options;
  const size = model.metadata.imageSize;
  const pixelsPerImage = size * size * 3;
  const input = new Float32Array(batchSize * pixelsPerImage);
  const progress: BatchRunProgress = { processed: 0, total: images.length, rows: 0, skipped: 0 };
  let batch: Array<{ image: BatchImage; pixels: Uint8Array }> = [];

  const run = async () => {
    if (signal?.aborted) throw new BatchRunAbortedError(progress.processed);
    const n = batch.length;
    batch.forEach((item, i) => input.set(item.pixels, i * pixelsPerImage));
    const result = await engine.run(model, input.subarray(0, n * pixelsPerImage), n);
    await output.write({
      images: batch.map((item) => item.image),
      probabilities: result.probabilities,
      features: result.features,
    });
    progress.rows += n;
    batch = [];
  };

  for await (const decoded of decodeAhead(images, size, 2 * batchSize, options.limitInputPixels)) {
    if ('error' in decoded) throw decoded.error;
    progress.processed++;
    if ('reason' in decoded) {
      await output.skip([{ path: decoded.image.path, reason: decoded.reason }]);
      progress.skipped++;
      continue;
    }
    batch.push(decoded);
    if (batch.length === batchSize) {
      await run();
      options.onProgress?.({ ...progress });
    }
  }
  if (batch.length > 0) await run();
  options.onProgress?.({ ...progress });
  return progress;
}

/**
 * Decodes images in order, keeping `window` decodes in flight. Every outcome is a value (never a rejected
 * promise left waiting), so nothing goes unhandled when the consumer stops early.
 */
async function* decodeAhead(
  images: readonly BatchImage[],
  size: number,
  window: number,
  limitInputPixels: number | undefined,
): AsyncGenerator<Decoded> {
  const inFlight: Array<Promise<Decoded>> = [];
  let next = 0;
  const start = () => {
    const image = images[next++]!;
    inFlight.push(
      decodeImage(image.file, { size, limitInputPixels }).then(
        (decoded) => ({ image, pixels: decoded.data }),
        (error: unknown) => (error instanceof ImageDecodeError ? { image, reason: error.reason } : { error }),
      ),
    );
  };
  while (inFlight.length < window && next < images.length) start();
  while (inFlight.length > 0) {
    const decoded = await inFlight.shift()!;
    if (next < images.length) start();
    yield decoded;
  }
}
