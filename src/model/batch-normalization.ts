import { tf, type Tensor } from '../compute/tf.js';
import { batchNormTrainKernelName, batchNormTrainSupports } from '../compute/wasm-kernels/batch-norm-train.js';

/**
 * Keras-compatible BatchNormalization with an explicit statistics mode. tfjs' built-in layer normalises
 * with batch statistics (and updates the moving ones) whenever `training` is true, i.e. always inside
 * model.fit(), even when the layer is frozen. Transfer learning needs the opposite, so the mode is a
 * property of the layer, independent of `trainable` (which only freezes gamma and beta):
 *  - 'inference': moving statistics, always; they are never written.
 *  - 'train': batch statistics when training (moving ones updated with `momentum`, as Keras 3 does,
 *    from the biased batch variance), moving statistics otherwise.
 */

export const batchNormModes = ['inference', 'train'] as const;
export type BatchNormMode = (typeof batchNormModes)[number];

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface BatchNormalizationArgs extends LayerArgs {
  mode?: BatchNormMode;
  /** Keras default 0.99. */
  momentum?: number;
  /** Keras default 1e-3. */
  epsilon?: number;
}

export class InvalidBatchNormModeError extends Error {
  constructor(
    readonly layer: string,
    readonly mode: unknown,
  ) {
    super(`BatchNormalization '${layer}': mode must be 'inference' or 'train', got ${JSON.stringify(mode)}`);
    this.name = 'InvalidBatchNormModeError';
  }
}

export class BatchNormalizationShapeError extends Error {
  constructor(
    readonly layer: string,
    readonly inputShape: unknown,
  ) {
    super(
      `BatchNormalization '${layer}': the channel (last) axis must be known, got input shape ${JSON.stringify(inputShape)}`,
    );
    this.name = 'BatchNormalizationShapeError';
  }
}

export class BatchNormalization extends tf.layers.Layer {
  /** Not 'BatchNormalization': registering under that name would replace tfjs' own class in the registry. */
  static readonly className = 'EffnetBatchNormalization';

  readonly momentum: number;
  readonly epsilon: number;
  private currentMode: BatchNormMode;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;
  private movingMean!: tf.LayerVariable;
  private movingVariance!: tf.LayerVariable;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args);
    this.supportsMasking = true;
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    this.currentMode = checkMode(this.name, args.mode ?? 'inference');
  }

  get mode(): BatchNormMode {
    return this.currentMode;
  }

  set mode(mode: BatchNormMode) {
    this.currentMode = checkMode(this.name, mode);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[shape.length - 1];
    if (channels == null) throw new BatchNormalizationShapeError(this.name, shape);
    // Keras' order: gamma, beta, moving_mean, moving_variance.
    this.gamma = this.addWeight('gamma', [channels], 'float32', tf.initializers.ones(), undefined, true);
    this.beta = this.addWeight('beta', [channels], 'float32', tf.initializers.zeros(), undefined, true);
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', tf.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight(
      'moving_variance',
      [channels],
      'float32',
      tf.initializers.ones(),
      undefined,
      false,
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (this.currentMode === 'train' && kwargs?.['training'] === true) return this.normalizeWithBatchStatistics(x);
      return this.normalize(x, this.movingMean.read(), this.movingVariance.read());
    });
  }

  private normalizeWithBatchStatistics(x: Tensor): Tensor {
    const fused = this.fusedWithBatchStatistics(x);
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const { mean, variance } = fused ?? tf.moments(x, axes);
    // Keras: moving = moving * momentum + batch * (1 - momentum).
    const decay = 1 - this.momentum;
    this.movingMean.write(tf.add(tf.mul(this.movingMean.read(), this.momentum), tf.mul(mean, decay)));
    this.movingVariance.write(tf.add(tf.mul(this.movingVariance.read(), this.momentum), tf.mul(variance, decay)));
    return fused?.y ?? this.normalize(x, mean, variance);
  }

  /**
   * Batch statistics and the normalised output from one kernel (and one gradient kernel) where the backend
   * has ours (wasm: about 25 fewer kernel calls per layer and step); undefined elsewhere.
   */
  private fusedWithBatchStatistics(x: Tensor): { y: Tensor; mean: Tensor; variance: Tensor } | undefined {
    if (!batchNormTrainSupports(x) || tf.getKernel(batchNormTrainKernelName, tf.getBackend()) == null) return undefined;
    const [y, mean, variance] = tf
      .engine()
      .runKernel(
        batchNormTrainKernelName,
        { x, gamma: this.gamma.read(), beta: this.beta.read() },
        { epsilon: this.epsilon },
      ) as Tensor[];
    return { y: y!, mean: mean!, variance: variance! };
  }

  private normalize(x: Tensor, mean: Tensor, variance: Tensor): Tensor {
    const gamma = this.gamma.read();
    const beta = this.beta.read();
    // The fused kernel's gradient only handles rank-4 inputs; other ranks take the elementwise form.
    if (x.rank === 4) return tf.batchNorm(x as tf.Tensor4D, mean, variance, beta, gamma, this.epsilon);
    return tf.add(tf.mul(tf.sub(x, mean), tf.mul(gamma, tf.rsqrt(tf.add(variance, this.epsilon)))), beta);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      axis: -1,
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: true,
      scale: true,
      mode: this.currentMode,
    };
  }
}

function checkMode(layer: string, mode: unknown): BatchNormMode {
  if (mode !== 'inference' && mode !== 'train') throw new InvalidBatchNormModeError(layer, mode);
  return mode;
}

tf.serialization.registerClass(BatchNormalization);

export function isBatchNormalization(layer: unknown): layer is BatchNormalization {
  return layer instanceof BatchNormalization;
}
