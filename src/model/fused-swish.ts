import { tf, type LayersModel, type Tensor } from '../compute/tf.js';
import { swishKernelName } from '../compute/wasm-kernels/swish.js';

/**
 * swish(x) = x * sigmoid(x) as one kernel (and one gradient kernel) where the backend has ours (wasm, see
 * wasm-kernels/swish.ts), else exactly tfjs-layers' sigmoid(x * 1) * x. EfficientNet spends a quarter of its
 * inference time and ~500 kernel calls per training step in swish otherwise.
 */
export function swish(x: Tensor): Tensor {
  if (x.dtype === 'float32' && tf.getKernel(swishKernelName, tf.getBackend()) != null) {
    return tf.engine().runKernel(swishKernelName, { x }, {}) as Tensor;
  }
  return tf.tidy(() => tf.mul(tf.sigmoid(tf.mul(x, 1)), x));
}

/**
 * A drop-in for tfjs-layers' 'swish' activation object: same class name, so layers serialise exactly as
 * before (`"activation": "swish"`), but computed by swish() above.
 */
export class FusedSwish extends tf.serialization.Serializable {
  static readonly className = 'swish';

  apply(x: Tensor): Tensor {
    return swish(x);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

interface WithActivation {
  activation?: { getClassName?(): string };
}

/**
 * Gives every layer of the model whose activation is 'swish' (Activation layers, convolutions) the fused
 * one. Weights and the saved format do not change; call it on every model built or loaded.
 */
export function fuseSwishActivations(model: LayersModel): LayersModel {
  for (const layer of model.layers as unknown as WithActivation[]) {
    const activation = layer.activation;
    if (activation?.getClassName?.() === 'swish' && !(activation instanceof FusedSwish)) {
      layer.activation = new FusedSwish();
    }
  }
  return model;
}
