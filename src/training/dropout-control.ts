import type { LayersModel } from '../compute/tf.js';
import { deriveSeed } from '../data/seeded-random.js';

/**
 * Makes the model's Dropout layers (drop-connect `blockNx_drop` and `top_dropout`) deterministic and
 * phase-aware.
 *
 * tfjs' Dropout draws its mask with tf.randomUniform(shape, 0, 1, 'float32', layer.seed): with no seed it
 * uses Math.random, and with a fixed seed every step would reuse the same mask. So before every optimizer
 * step the trainer gives each Dropout layer a fresh seed derived from (run seed, phase, epoch, batch,
 * layer name): the masks are reproducible, differ from step to step, and need no RNG state in the
 * checkpoint (a resumed run derives the same seeds from the same counters). The phase-1 feature cache
 * seeds `top_dropout` the same way, so it draws the very same masks as the full model would.
 *
 * Frozen layers behave as in inference: a Dropout layer is active only while its layer is trainable
 * (configurePhase marks `top_dropout` always trainable, `blockNx_drop` only inside unfrozen blocks). So
 * phase 1 runs the frozen base deterministically, which is also what makes its features cacheable.
 *
 * `rate` and `seed` are tfjs' own (TS-private) fields; restore() puts the built values back before the
 * model is saved, so the artifact's config is the usual Keras one.
 */

interface MutableDropout {
  name: string;
  trainable: boolean;
  rate: number;
  seed?: number;
}

export class DropoutControl {
  private readonly layers: MutableDropout[];
  private readonly original: Array<{ rate: number; seed?: number }>;

  constructor(model: LayersModel) {
    this.layers = model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as MutableDropout[];
    this.original = this.layers.map((l) => ({ rate: l.rate, seed: l.seed }));
  }

  get names(): string[] {
    return this.layers.map((l) => l.name);
  }

  /** Seeds every Dropout layer for one step and switches off those of frozen layers. */
  prepareStep(seed: number, phase: string, epoch: number, batch: number): void {
    this.layers.forEach((layer, i) => {
      layer.rate = layer.trainable ? this.original[i]!.rate : 0;
      layer.seed = deriveSeed(seed, 'dropout', phase, epoch, batch, layer.name);
    });
  }

  /** The seed prepareStep gives `layerName` for that step (used by the feature-cache head). */
  static seedFor(seed: number, phase: string, epoch: number, batch: number, layerName: string): number {
    return deriveSeed(seed, 'dropout', phase, epoch, batch, layerName);
  }

  /** Turns every Dropout layer off (for forward passes in training mode that must not drop anything). */
  disableAll(): void {
    for (const layer of this.layers) layer.rate = 0;
  }

  restore(): void {
    this.layers.forEach((layer, i) => {
      layer.rate = this.original[i]!.rate;
      layer.seed = this.original[i]!.seed;
    });
  }
}
