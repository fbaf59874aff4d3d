import { createBatchStream } from '../data/batch-pipeline.js';
import type { LayersModel } from '../compute/tf.js';
import type { ResolvedTrainingConfig } from '../schemas/training-config.js';
import type { TrainingDataset } from './training-dataset.js';
import { predictImages } from './training-steps.js';

/** Class probabilities over the validation images, in file order, for per-epoch validation and evaluation. */

export interface Predictions {
  /** One row of numClasses probabilities per image. */
  probabilities: Float32Array;
  labels: Int32Array;
}

export function collect(
  batches: Iterable<{ x: Float32Array; y: Int32Array; size: number }>,
  predict: (batch: { x: Float32Array; size: number }) => Float32Array,
): Predictions {
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  for (const batch of batches) {
    rows.push(predict(batch));
    labels.push(...batch.y);
  }
  return { probabilities: concat(rows), labels: Int32Array.from(labels) };
}

export function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Probabilities of the whole model for every validation image, in file order. */
export async function predictDataset(
  ctx: { model: LayersModel; config: ResolvedTrainingConfig; dataset: TrainingDataset },
  batchSize: number,
  checkCancelled: () => void = () => {},
): Promise<Predictions> {
  const stream = createBatchStream({
    items: ctx.dataset.val,
    numClasses: ctx.dataset.classes.length,
    imageSize: ctx.config.imageSize,
    batchSize,
    shuffle: false,
    seed: 0,
    augmentation: false,
  });
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  for await (const batch of stream.batches(0)) {
    checkCancelled();
    rows.push(predictImages(ctx.model, batch.x, batch.size, ctx.config.imageSize));
    labels.push(...batch.y);
  }
  return { probabilities: concat(rows), labels: Int32Array.from(labels) };
}
