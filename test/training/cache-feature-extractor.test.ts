import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../../src/compute/tf.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { featureExtractor } from '../../src/model/feature-extractor.js';
import { isOnnxRuntimeAvailable } from '../../src/onnx/onnx-engine.js';
import { createCacheFeatureExtractor } from '../../src/training/cache-feature-extractor.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { calibrationImageCount, makeTrainedLike, patternImages, relativeError } from '../onnx/trained-like-model.js';

test('the phase-1 feature cache is filled by onnxruntime where it loads, agreeing with tfjs', async (t) => {
  await useTestBackend();
  // A B0 with BN statistics calibrated on pattern images (features that differ between images), whose first
  // images are the ones compared, as the exporter's own agreement tests do.
  const size = 32;
  const model = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses: 3, seed: 11 });
  t.after(() => model.dispose());
  const count = calibrationImageCount(size);
  const images = patternImages(count, size);
  tf.tidy(() => makeTrainedLike(model, tf.tensor4d(images, [count, size, size, 3]), 1234));
  const n = 3;
  const x = images.slice(0, n * size * size * 3);

  const auto = await createCacheFeatureExtractor(featureExtractor(model), size);
  const tfjs = await createCacheFeatureExtractor(featureExtractor(model), size, 'tfjs');
  try {
    assert.equal(auto.engine, (await isOnnxRuntimeAvailable()) ? 'onnxruntime' : 'tfjs');
    assert.equal(tfjs.engine, 'tfjs');
    const a = await auto.extract(x, n);
    const b = await tfjs.extract(x, n);
    assert.equal(a.length, n * 1280);
    const error = relativeError(a, b);
    assert.ok(error < 1e-4, `onnxruntime vs tfjs: relative difference ${error}`);
  } finally {
    await auto.release();
    await tfjs.release();
  }
});
