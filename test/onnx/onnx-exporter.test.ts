import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, type LayersModel, type Tensor } from '../../src/compute/tf.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { featureExtractor } from '../../src/model/feature-extractor.js';
import { createOnnxSession, isOnnxRuntimeAvailable, runOnnx, type OnnxOutputs } from '../../src/onnx/onnx-engine.js';
import { exportToOnnx, type OnnxExportOptions } from '../../src/onnx/onnx-exporter.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import {
  calibrationImageCount,
  centeredRows,
  makeTrainedLike,
  patternImages,
  relativeError,
} from './trained-like-model.js';

/**
 * onnxruntime-node on the export against tfjs predict() and featureExtractor() on the same pixels.
 * Errors are max |onnx - tfjs| / max |tfjs|, printed by each test.
 */

const tolerance = 1e-4;
const numClasses = 5;
const images = 3;
const ortAvailable = await isOnnxRuntimeAvailable();
const skip = ortAvailable ? false : 'onnxruntime-node is not installed (optional dependency)';

interface Reference {
  probabilities: Float32Array;
  features: Float32Array;
}

function tfjsReference(model: LayersModel, pixels: Float32Array, size: number): Reference {
  return tf.tidy(() => {
    const x = tf.tensor4d(pixels, [pixels.length / (size * size * 3), size, size, 3]);
    return {
      probabilities: (model.predict(x) as Tensor).dataSync() as Float32Array,
      features: (featureExtractor(model).predict(x) as Tensor).dataSync() as Float32Array,
    };
  });
}

async function onnxOutputs(model: LayersModel, pixels: Float32Array, size: number, options?: OnnxExportOptions) {
  const session = await createOnnxSession(exportToOnnx(model, options), { intraOpThreads: 1 });
  try {
    return await runOnnx(session, pixels, pixels.length / (size * size * 3), size);
  } finally {
    await session.release();
  }
}

function assertAgreement(label: string, onnx: OnnxOutputs, reference: Reference): void {
  const features = relativeError(onnx.features, reference.features);
  const centered = relativeError(centeredRows(onnx.features, images), centeredRows(reference.features, images));
  const probabilities = relativeError(onnx.probabilities!, reference.probabilities);
  console.log(
    `${label}: relative error features ${features.toExponential(2)}, image-dependent part of features ` +
      `${centered.toExponential(2)}, probabilities ${probabilities.toExponential(2)}`,
  );
  assert.ok(features <= tolerance, `${label}: features relative error ${features}`);
  assert.ok(centered <= tolerance, `${label}: centered features relative error ${centered}`);
  assert.ok(probabilities <= tolerance, `${label}: probabilities relative error ${probabilities}`);
}

/**
 * B0 at `size` with BN statistics calibrated at that size (they do not transfer: calibrated at 48 px,
 * activations reach 3e5 at 96 px) on pattern images of which the test images are the first ones.
 */
function trainedLikeB0(size: number, includeHead = true): LayersModel {
  const model = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses, includeHead, seed: 11 });
  const count = calibrationImageCount(size);
  tf.tidy(() => makeTrainedLike(model, tf.tensor4d(patternImages(count, size), [count, size, size, 3]), 1234));
  return model;
}

describe('exportToOnnx: EfficientNet-B0 on onnxruntime agrees with tfjs', { skip }, () => {
  before(() => useTestBackend());

  for (const size of [32, 57, 96]) {
    test(`random initialisation, ${size} px`, async () => {
      const model = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses, seed: size });
      const pixels = patternImages(images, size);
      assertAgreement(
        `B0 random ${size}px`,
        await onnxOutputs(model, pixels, size),
        tfjsReference(model, pixels, size),
      );
      model.dispose();
    });

    test(`trained-like BN statistics (folding exercised), ${size} px`, async () => {
      const pixels = patternImages(images, size);
      const model = trainedLikeB0(size);
      const reference = tfjsReference(model, pixels, size);
      // The comparison means something only if the outputs depend on the image and are not saturated.
      const spread = Math.max(...centeredRows(reference.features, images).map(Math.abs));
      assert.ok(spread > 0.05, `features hardly vary between images (${spread})`);
      const top = Math.max(...reference.probabilities);
      assert.ok(top > 0.5 && reference.probabilities.some((p) => p > 0.01 && p < 0.99), 'degenerate probabilities');
      assertAgreement(`B0 trained-like ${size}px`, await onnxOutputs(model, pixels, size), reference);
      model.dispose();
    });
  }

  test('opset 17 and a features-only export give the same numbers', async () => {
    const size = 45;
    const pixels = patternImages(images, size);
    const model = trainedLikeB0(size);
    const reference = tfjsReference(model, pixels, size);
    assertAgreement('B0 trained-like 45px opset 17', await onnxOutputs(model, pixels, size, { opset: 17 }), reference);
    const featuresOnly = await onnxOutputs(model, pixels, size, { outputs: 'features-only' });
    assert.equal(featuresOnly.probabilities, undefined);
    assert.ok(relativeError(featuresOnly.features, reference.features) <= tolerance);
    model.dispose();
  });

  test('a model without head exports its pooled top_activation as features', async () => {
    const size = 40;
    const pixels = patternImages(images, size);
    const model = trainedLikeB0(size, false);
    const expected = tf.tidy(() =>
      (featureExtractor(model).predict(tf.tensor4d(pixels, [images, size, size, 3])) as Tensor).dataSync(),
    );
    const onnx = await onnxOutputs(model, pixels, size, { outputs: 'features-only' });
    assert.equal(onnx.features.length, images * 1280);
    const error = relativeError(onnx.features, expected);
    console.log(`B0 headless trained-like 40px: features relative error ${error.toExponential(2)}`);
    assert.ok(error <= tolerance, `features relative error ${error}`);
    model.dispose();
  });
});
