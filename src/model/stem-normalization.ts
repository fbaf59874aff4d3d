import { tf, type Tensor } from '../compute/tf.js';

/**
 * The equivalent of keras.layers.Normalization(axis=-1) as EfficientNet's stem uses it: per-channel
 * `(x - mean) / max(sqrt(variance), 1e-7)`, with `mean`, `variance` and `count` held as three
 * non-trainable weights in Keras' order. They start at Keras' adapt-less values (0, 1, 0); the ImageNet
 * statistics arrive with the weights file, or through setStatistics().
 *
 * `count` only records how many samples adapt() saw; Keras stores it as int64, here it is float32 so a
 * generic float loader can set it. It never affects the output.
 */

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** keras.backend.epsilon(), the floor Keras puts under sqrt(variance). */
const kerasEpsilon = 1e-7;

export interface StemStatistics {
  mean: number[];
  variance: number[];
  count?: number;
}

export class StemStatisticsShapeError extends Error {
  constructor(
    readonly layer: string,
    detail: string,
  ) {
    super(`Normalization '${layer}': ${detail}`);
    this.name = 'StemStatisticsShapeError';
  }
}

export class StemNormalization extends tf.layers.Layer {
  /** Not 'Normalization', so nothing of tfjs' own registry is shadowed. */
  static readonly className = 'EffnetNormalization';

  private mean!: tf.LayerVariable;
  private variance!: tf.LayerVariable;
  private count!: tf.LayerVariable;

  constructor(args: LayerArgs = {}) {
    super({ ...args, trainable: false });
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[shape.length - 1];
    if (channels == null)
      throw new StemStatisticsShapeError(this.name, `channel axis of ${JSON.stringify(shape)} unknown`);
    this.mean = this.addWeight('mean', [channels], 'float32', tf.initializers.zeros(), undefined, false);
    this.variance = this.addWeight('variance', [channels], 'float32', tf.initializers.ones(), undefined, false);
    this.count = this.addWeight('count', [], 'float32', tf.initializers.zeros(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const denominator = tf.maximum(tf.sqrt(this.variance.read()), kerasEpsilon);
      return tf.div(tf.sub(x, this.mean.read()), denominator);
    });
  }

  /** Writes the per-channel statistics (e.g. ImageNet's, from a weights file). Call after the model is built. */
  setStatistics(statistics: StemStatistics): void {
    const channels = this.mean.shape[0]!;
    if (statistics.mean.length !== channels || statistics.variance.length !== channels) {
      throw new StemStatisticsShapeError(
        this.name,
        `expected ${channels} means and variances, got ${statistics.mean.length} and ${statistics.variance.length}`,
      );
    }
    tf.tidy(() => {
      this.mean.write(tf.tensor1d(statistics.mean));
      this.variance.write(tf.tensor1d(statistics.variance));
      if (statistics.count !== undefined) this.count.write(tf.scalar(statistics.count));
    });
  }

  statistics(): Required<StemStatistics> {
    return {
      mean: Array.from(this.mean.read().dataSync()),
      variance: Array.from(this.variance.read().dataSync()),
      count: this.count.read().dataSync()[0]!,
    };
  }

  override getConfig(): tf.serialization.ConfigDict {
    // Keras' config for an adapt()-style layer: statistics live in the weights, not the config.
    return { ...super.getConfig(), axis: -1, invert: false, mean: null, variance: null };
  }
}

tf.serialization.registerClass(StemNormalization);
