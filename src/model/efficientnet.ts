import { tf, type LayersModel } from '../compute/tf.js';
import { getArchitecture, type ArchitectureName, type ArchitectureSpec } from './architectures.js';
import { BatchNormalization, type BatchNormMode } from './batch-normalization.js';
import { fuseSwishActivations } from './fused-swish.js';
import { correctPad, defaultDropConnectRate, efficientNetLayout, type BlockSpec } from './efficientnet-blocks.js';
import { Rescaling, imagenetStddevRescale } from './rescaling.js';
import { StemNormalization } from './stem-normalization.js';

/**
 * keras.applications.EfficientNetB0..B7 rebuilt layer for layer in tfjs-layers, with Keras' layer and
 * weight names. Input: [batch, S, S, 3] float RGB pixels in 0..255. The stem is always the one Keras
 * builds for weights='imagenet' (rescaling, normalization, rescaling_1): this service always starts
 * from ImageNet weights, and with mean 0 / variance 1 the extra fixed rescaling is harmless otherwise.
 */

export interface BuildEfficientNetOptions {
  /** 'efficientnet-b3', 'b3' or a spec from architectures.ts. */
  architecture: ArchitectureName | string | ArchitectureSpec;
  /** Square input size; defaults to the architecture's. Keras' minimum is 32. */
  imageSize?: number;
  /** Classifier width; required when includeHead is true. */
  numClasses?: number;
  /** false gives Keras' include_top=False base, whose output is `top_activation`. */
  includeHead?: boolean;
  /** Mode of every BatchNormalization layer (see batch-normalization.ts). */
  bnMode?: BatchNormMode;
  /** Seeds the Keras initialisers so a build is reproducible. */
  seed?: number;
  /** Keras' drop_connect_rate (default 0.2); 0 removes the `*_drop` layers as Keras does. */
  dropConnectRate?: number;
  /** Rate of `top_dropout`; defaults to the architecture's. */
  dropoutRate?: number;
}

export class InvalidModelOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidModelOptionsError';
  }
}

/** Keras' truncated-normal correction: stddev of a unit normal truncated at +-2. */
const truncatedNormalStddev = 0.87962566103423978;
export const minImageSize = 32;

type Symbolic = tf.SymbolicTensor;
type Initializer = ReturnType<typeof tf.initializers.truncatedNormal>;

export function buildEfficientNet(options: BuildEfficientNetOptions): LayersModel {
  const arch = typeof options.architecture === 'string' ? getArchitecture(options.architecture) : options.architecture;
  const includeHead = options.includeHead ?? true;
  const imageSize = options.imageSize ?? arch.defaultImageSize;
  const bnMode = options.bnMode ?? 'inference';
  const dropConnectRate = options.dropConnectRate ?? defaultDropConnectRate;
  const dropoutRate = options.dropoutRate ?? arch.dropoutRate;
  validate(options, includeHead, imageSize, dropConnectRate, dropoutRate);

  const init = new KerasInitializers(options.seed);
  const layout = efficientNetLayout(arch, dropConnectRate);
  const bn = (name: string) => new BatchNormalization({ name, mode: bnMode });
  const swish = (name: string) => tf.layers.activation({ activation: 'swish', name });

  const input = tf.input({ shape: [imageSize, imageSize, 3], name: 'input_layer' });
  let x: Symbolic = apply(new Rescaling({ scale: 1.0 / 255.0, name: 'rescaling' }), input);
  x = apply(new StemNormalization({ name: 'normalization' }), x);
  x = apply(new Rescaling({ scale: imagenetStddevRescale(), name: 'rescaling_1' }), x);

  x = apply(tf.layers.zeroPadding2d({ padding: correctPad(spatial(x), 3), name: 'stem_conv_pad' }), x);
  x = apply(init.conv2d({ name: 'stem_conv', filters: layout.stemFilters, kernelSize: 3, strides: 2 }, 'valid', 3), x);
  x = apply(bn('stem_bn'), x);
  x = apply(swish('stem_activation'), x);

  for (const block of layout.blocks) x = buildBlock(x, block, init, bn, swish);

  x = apply(init.conv2d({ name: 'top_conv', filters: layout.topFilters, kernelSize: 1 }, 'same', x.shape[3]!), x);
  x = apply(bn('top_bn'), x);
  x = apply(swish('top_activation'), x);

  if (includeHead) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    if (dropoutRate > 0) x = apply(tf.layers.dropout({ rate: dropoutRate, name: 'top_dropout' }), x);
    x = apply(
      tf.layers.dense({
        units: options.numClasses!,
        activation: 'softmax',
        kernelInitializer: init.dense(),
        name: 'predictions',
      }),
      x,
    );
  }
  // Swish as one kernel each way where the backend has it; the layers still serialise as 'swish'.
  return fuseSwishActivations(tf.model({ inputs: input, outputs: x, name: `efficientnet${arch.name.slice(-2)}` }));
}

function buildBlock(
  inputs: Symbolic,
  block: BlockSpec,
  init: KerasInitializers,
  bn: (name: string) => BatchNormalization,
  swish: (name: string) => tf.layers.Layer,
): Symbolic {
  const p = `${block.name}_`;
  const filters = block.expandedFilters;
  let x = inputs;
  if (block.expandRatio !== 1) {
    x = apply(init.conv2d({ name: `${p}expand_conv`, filters, kernelSize: 1 }, 'same', block.filtersIn), x);
    x = apply(bn(`${p}expand_bn`), x);
    x = apply(swish(`${p}expand_activation`), x);
  }

  let padding: 'same' | 'valid' = 'same';
  if (block.strides === 2) {
    const pad = correctPad(spatial(x), block.kernelSize);
    x = apply(tf.layers.zeroPadding2d({ padding: pad, name: `${p}dwconv_pad` }), x);
    padding = 'valid';
  }
  x = apply(
    tf.layers.depthwiseConv2d({
      name: `${p}dwconv`,
      kernelSize: block.kernelSize,
      strides: block.strides,
      padding,
      useBias: false,
      depthwiseInitializer: init.conv([block.kernelSize, block.kernelSize, filters, 1]),
    }),
    x,
  );
  x = apply(bn(`${p}bn`), x);
  x = apply(swish(`${p}activation`), x);

  // Squeeze and excitation.
  let se = apply(tf.layers.globalAveragePooling2d({ name: `${p}se_squeeze` }), x);
  se = apply(tf.layers.reshape({ targetShape: [1, 1, filters], name: `${p}se_reshape` }), se);
  se = apply(
    init.conv2d({ name: `${p}se_reduce`, filters: block.seFilters, kernelSize: 1 }, 'same', filters, true, 'swish'),
    se,
  );
  se = apply(
    init.conv2d({ name: `${p}se_expand`, filters, kernelSize: 1 }, 'same', block.seFilters, true, 'sigmoid'),
    se,
  );
  x = apply(tf.layers.multiply({ name: `${p}se_excite` }), [x, se]);

  x = apply(init.conv2d({ name: `${p}project_conv`, filters: block.filtersOut, kernelSize: 1 }, 'same', filters), x);
  x = apply(bn(`${p}project_bn`), x);
  if (block.hasSkip) {
    if (block.hasDrop) {
      // Drop-connect: drops whole samples of the residual branch (noise shape batch,1,1,1).
      const noiseShape = [null, 1, 1, 1] as unknown as number[];
      x = apply(tf.layers.dropout({ rate: block.dropRate, noiseShape, name: `${p}drop` }), x);
    }
    x = apply(tf.layers.add({ name: `${p}add` }), [x, inputs]);
  }
  return x;
}

/** Keras' CONV_KERNEL_INITIALIZER and DENSE_KERNEL_INITIALIZER, with per-layer seeds derived from one seed. */
class KerasInitializers {
  private next: number;

  constructor(private readonly seed: number | undefined) {
    this.next = seed ?? 0;
  }

  private nextSeed(): number | undefined {
    return this.seed === undefined ? undefined : this.next++;
  }

  /** VarianceScaling(scale=2, mode='fan_out', distribution='truncated_normal') for a kernel of this shape. */
  conv(kernelShape: [number, number, number, number]): Initializer {
    const [kh, kw, , outChannels] = kernelShape;
    const fanOut = kh * kw * outChannels;
    const stddev = Math.sqrt(2.0 / Math.max(1, fanOut)) / truncatedNormalStddev;
    return tf.initializers.truncatedNormal({ mean: 0, stddev, seed: this.nextSeed() });
  }

  /** VarianceScaling(scale=1/3, mode='fan_out', distribution='uniform'); tfjs computes it exactly as Keras. */
  dense(): Initializer {
    return tf.initializers.varianceScaling({
      scale: 1.0 / 3.0,
      mode: 'fanOut',
      distribution: 'uniform',
      seed: this.nextSeed(),
    });
  }

  conv2d(
    args: { name: string; filters: number; kernelSize: number; strides?: number },
    padding: 'same' | 'valid',
    inChannels: number,
    useBias = false,
    activation?: 'swish' | 'sigmoid',
  ): tf.layers.Layer {
    return tf.layers.conv2d({
      ...args,
      padding,
      useBias,
      activation,
      kernelInitializer: this.conv([args.kernelSize, args.kernelSize, inChannels, args.filters]),
    });
  }
}

function apply(layer: tf.layers.Layer, x: Symbolic | Symbolic[]): Symbolic {
  return layer.apply(x) as Symbolic;
}

function spatial(x: Symbolic): [number, number] {
  return [x.shape[1]!, x.shape[2]!];
}

function validate(
  options: BuildEfficientNetOptions,
  includeHead: boolean,
  imageSize: number,
  dropConnectRate: number,
  dropoutRate: number,
): void {
  if (!Number.isInteger(imageSize) || imageSize < minImageSize) {
    throw new InvalidModelOptionsError(`imageSize must be an integer >= ${minImageSize}, got ${imageSize}`);
  }
  if (includeHead && (!Number.isInteger(options.numClasses) || options.numClasses! < 1)) {
    throw new InvalidModelOptionsError(
      `numClasses must be a positive integer when includeHead is true, got ${options.numClasses}`,
    );
  }
  for (const [name, rate] of [
    ['dropConnectRate', dropConnectRate],
    ['dropoutRate', dropoutRate],
  ] as const) {
    if (!(rate >= 0 && rate < 1)) throw new InvalidModelOptionsError(`${name} must be in [0, 1), got ${rate}`);
  }
}
