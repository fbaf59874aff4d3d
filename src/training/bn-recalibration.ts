import { tf } from '../compute/tf.js';
import type { LayersModel } from '../compute/tf.js';
import type { BatchNormalization } from '../model/batch-normalization.js';
import type { DropoutControl } from './dropout-control.js';
import { trainModeBatchNorms } from './phase-setup.js';

/**
 * Precise BN: after an epoch in which BatchNormalization ran with batch statistics, its moving statistics
 * are recomputed as the average of the batch statistics over (up to `maxImages`) training images, with the
 * weights the epoch ended with.
 *
 * Why: Keras' exponential moving average (momentum 0.99) needs hundreds of steps to forget its start. From
 * random init that start (mean 0, variance 1) is far from the real statistics, so after a few epochs on a
 * small dataset the model evaluates with statistics that do not match its weights: validation accuracy is
 * at chance level and deeper layers can overflow to NaN (what random-init B0 at 32 px did). Averaging over
 * the data instead gives statistics that match the trained weights after every epoch, so validation,
 * early stopping and the saved model are meaningful from the first epoch.
 *
 * How: our BatchNormalization updates `moving = moving × momentum + batch × (1 − momentum)` when it runs
 * in 'train' mode with training=true. Setting momentum to seen/(seen + n) for a batch of n images after
 * `seen` turns that into a mean of the batch statistics weighted by batch size. Dropout is switched off
 * for these forward passes; the layers' momentum is restored afterwards.
 *
 * The batches should be as large as memory allows (the caller sizes them with the memory estimate), not
 * the training batch size: with small batches, and at 32 px B0's last stages are 1×1 spatially, batch
 * statistics vary so much from batch to batch that their average is a poor stand-in for the statistics of
 * any one batch, and the inference-mode model disagrees with the one training saw (measured: training
 * images 0.7 accurate in inference mode vs 1.0 with batch statistics, recalibrated with batches of 16;
 * equal with one batch of 72). Batch variances are the biased ones, as Keras 3 uses.
 */
export async function recalibrateBatchNorm(
  model: LayersModel,
  batches: AsyncIterable<{ x: Float32Array; size: number }>,
  imageSize: number,
  dropout: DropoutControl,
  options: { maxImages: number; signal?: AbortSignal; onCancel: () => Error },
): Promise<number> {
  const layers = trainModeBatchNorms(model);
  if (layers.length === 0) return 0;
  const saved = layers.map((l) => l.momentum);
  dropout.disableAll();
  let seen = 0;
  try {
    for await (const batch of batches) {
      if (options.signal?.aborted) throw options.onCancel();
      for (const layer of layers) setMomentum(layer, seen / (seen + batch.size));
      tf.tidy(() => {
        const x = tf.tensor4d(batch.x, [batch.size, imageSize, imageSize, 3]);
        model.apply(x, { training: true });
      });
      seen += batch.size;
      if (seen >= options.maxImages) break;
    }
  } finally {
    layers.forEach((layer, i) => setMomentum(layer, saved[i]!));
  }
  return seen;
}

function setMomentum(layer: BatchNormalization, momentum: number): void {
  (layer as unknown as { momentum: number }).momentum = momentum;
}
