import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, type LayersModel, type Tensor } from '../../src/compute/tf.js';
import { BatchNormalization } from '../../src/model/batch-normalization.js';
import { Rescaling } from '../../src/model/rescaling.js';
import { createOnnxSession, isOnnxRuntimeAvailable, runOnnx } from '../../src/onnx/onnx-engine.js';
import {
  InvalidOnnxExportOptionsError,
  MissingClassifierError,
  UnsupportedLayerConfigError,
  UnsupportedLayerError,
} from '../../src/onnx/onnx-export-errors.js';
import { exportToOnnx } from '../../src/onnx/onnx-exporter.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { patternImages, relativeError } from './trained-like-model.js';

/**
 * Small models that reach the translation paths EfficientNet does not: SAME padding with stride 2 (where
 * TF puts the odd extra row at the end), depth multipliers, dilation, biased convs with relu, asymmetric
 * ZeroPadding2D, a BatchNormalization that cannot be folded (two readers), Dense without softmax.
 */

const skip = (await isOnnxRuntimeAvailable()) ? false : 'onnxruntime-node is not installed (optional dependency)';
type Symbolic = tf.SymbolicTensor;

function bn(name: string): BatchNormalization {
  return new BatchNormalization({ name });
}

function randomiseBatchNorms(model: LayersModel): void {
  let seed = 5;
  for (const layer of model.layers) {
    if (!(layer instanceof BatchNormalization)) continue;
    const c = layer.getWeights()[0]!.shape[0]!;
    const u = (low: number, high: number) => tf.randomUniform([c], low, high, 'float32', seed++);
    layer.setWeights([u(0.5, 1.5), u(-0.5, 0.5), u(-0.3, 0.3), u(0.3, 2)]);
  }
}

/** Everything but the classifier; `size` odd or even changes how SAME splits its padding. */
function generalModel(size: number, classes: number, softmax: boolean): LayersModel {
  const input = tf.input({ shape: [size, size, 3] });
  let x = new Rescaling({ scale: [1 / 255, 2 / 255, 3 / 255], offset: -0.5, name: 'scale' }).apply(input) as Symbolic;
  x = tf.layers
    .conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' })
    .apply(x) as Symbolic;
  x = tf.layers
    .depthwiseConv2d({ kernelSize: [3, 5], strides: 2, depthMultiplier: 2, padding: 'same', useBias: true, name: 'dw' })
    .apply(x) as Symbolic;
  const normalized = bn('bn_shared').apply(x) as Symbolic;
  // Two readers: the BN's pending affine must be written once and shared.
  const left = tf.layers.activation({ activation: 'swish', name: 'left' }).apply(normalized) as Symbolic;
  const right = tf.layers.activation({ activation: 'tanh', name: 'right' }).apply(normalized) as Symbolic;
  x = tf.layers.add({ name: 'sum' }).apply([left, right]) as Symbolic;
  x = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 2],
        [0, 3],
      ],
      name: 'pad',
    })
    .apply(x) as Symbolic;
  x = tf.layers
    .conv2d({ filters: 5, kernelSize: 2, dilationRate: 2, padding: 'valid', useBias: false, name: 'dilated' })
    .apply(x) as Symbolic;
  x = bn('bn_folded').apply(x) as Symbolic;
  x = tf.layers.activation({ activation: 'sigmoid', name: 'gate' }).apply(x) as Symbolic;
  x = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as Symbolic;
  x = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(x) as Symbolic;
  const out = tf.layers
    .dense({ units: classes, activation: softmax ? 'softmax' : 'linear', name: 'head' })
    .apply(x) as Symbolic;
  const model = tf.model({ inputs: input, outputs: out });
  randomiseBatchNorms(model);
  return model;
}

async function compare(model: LayersModel, size: number): Promise<{ probabilities: number; features: number }> {
  const n = 2;
  const pixels = patternImages(n, size);
  const session = await createOnnxSession(exportToOnnx(model), { intraOpThreads: 1 });
  const onnx = await runOnnx(session, pixels, n, size);
  await session.release();
  const featureModel = tf.model({ inputs: model.inputs, outputs: model.getLayer('avg_pool').output as Symbolic });
  const [probabilities, features] = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [n, size, size, 3]);
    return [model, featureModel].map((m) => (m.predict(x) as Tensor).dataSync());
  });
  return {
    probabilities: relativeError(onnx.probabilities!, probabilities!),
    features: relativeError(onnx.features, features!),
  };
}

describe('layer translation beyond EfficientNet', { skip }, () => {
  before(() => useTestBackend());

  for (const size of [13, 16]) {
    test(`stride-2 SAME, depth multiplier, dilation, shared BN, ${size} px`, async () => {
      const model = generalModel(size, 4, true);
      const errors = await compare(model, size);
      console.log(
        `general model ${size}px: relative error features ${errors.features.toExponential(2)}, ` +
          `probabilities ${errors.probabilities.toExponential(2)}`,
      );
      assert.ok(errors.features <= 1e-5 && errors.probabilities <= 1e-5, JSON.stringify(errors));
      model.dispose();
    });
  }

  test('a linear Dense head is exported as logits', async () => {
    const model = generalModel(11, 3, false);
    const errors = await compare(model, 11);
    assert.ok(errors.features <= 1e-5 && errors.probabilities <= 1e-5, JSON.stringify(errors));
    model.dispose();
  });
});

describe('exportToOnnx errors', () => {
  before(() => useTestBackend());

  test('an unsupported layer is named', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const pooled = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(input) as Symbolic;
    const out = tf.layers.globalAveragePooling2d({}).apply(pooled) as Symbolic;
    const model = tf.model({ inputs: input, outputs: out });
    assert.throws(
      () => exportToOnnx(model, { outputs: 'features-only' }),
      (e: unknown) => e instanceof UnsupportedLayerError && e.layer === 'pool' && e.className === 'MaxPooling2D',
    );
  });

  test('an unsupported configuration is named', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const reshaped = tf.layers.reshape({ targetShape: [64, 3], name: 'odd_reshape' }).apply(input) as Symbolic;
    const out = tf.layers.globalAveragePooling1d({}).apply(reshaped) as Symbolic;
    const model = tf.model({ inputs: input, outputs: out });
    assert.throws(
      () => exportToOnnx(model, { outputs: 'features-only' }),
      (e: unknown) => e instanceof UnsupportedLayerConfigError && e.layer === 'odd_reshape',
    );
  });

  test('options are checked', () => {
    const model = generalModel(9, 2, true);
    for (const opset of [12, 18, 13.5]) {
      assert.throws(() => exportToOnnx(model, { opset }), InvalidOnnxExportOptionsError);
    }
    assert.throws(() => exportToOnnx(model, { outputs: 'logits' as 'classifier' }), InvalidOnnxExportOptionsError);
    const featuresModel = tf.model({ inputs: model.inputs, outputs: model.getLayer('avg_pool').output as Symbolic });
    assert.throws(() => exportToOnnx(featuresModel), MissingClassifierError);
    assert.ok(exportToOnnx(featuresModel, { outputs: 'features-only' }).byteLength > 0);
    model.dispose();
  });
});
