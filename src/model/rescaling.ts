import { tf, type Tensor } from '../compute/tf.js';

/**
 * keras.layers.Rescaling: `x * scale + offset`, where `scale` may be one number or one per channel
 * (EfficientNet's `rescaling_1` divides each channel by sqrt(ImageNet stddev)). tfjs' own Rescaling
 * only types a scalar scale.
 */

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface RescalingArgs extends LayerArgs {
  scale: number | number[];
  offset?: number;
}

export class Rescaling extends tf.layers.Layer {
  static readonly className = 'EffnetRescaling';

  readonly scale: number | number[];
  readonly offset: number;

  constructor(args: RescalingArgs) {
    super(args);
    this.scale = Array.isArray(args.scale) ? [...args.scale] : args.scale;
    this.offset = args.offset ?? 0;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.tidy(() => {
      const x = tf.cast(Array.isArray(inputs) ? inputs[0]! : inputs, 'float32');
      const scaled = tf.mul(x, Array.isArray(this.scale) ? tf.tensor1d(this.scale) : this.scale);
      return this.offset === 0 ? scaled : tf.add(scaled, this.offset);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}

tf.serialization.registerClass(Rescaling);

/** Keras' IMAGENET_STDDEV_RGB. */
export const imagenetStddevRgb = [0.229, 0.224, 0.225] as const;

/** The per-channel scale of EfficientNet's `rescaling_1`: 1 / sqrt(stddev), computed as Keras does in float64. */
export function imagenetStddevRescale(): number[] {
  return imagenetStddevRgb.map((stddev) => 1.0 / Math.sqrt(stddev));
}
