import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tf, type LayersModel, type Tensor } from '../../src/compute/tf.js';
import {
  createOnnxSession,
  InvalidOnnxSessionOptionsError,
  isOnnxRuntimeAvailable,
  loadOnnxRuntime,
  OnnxModelLoadError,
  OnnxRunError,
  OnnxRuntimeUnavailableError,
  runOnnx,
} from '../../src/onnx/onnx-engine.js';
import { exportToOnnx } from '../../src/onnx/onnx-exporter.js';
import { tempDir } from '../helpers/temp-dir.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { patternImages, relativeError } from './trained-like-model.js';

type Symbolic = tf.SymbolicTensor;
const size = 12;
const classes = 3;

describe('onnxruntime availability', () => {
  test('a runtime that cannot be imported is reported, not thrown at import time', async () => {
    const missing = 'onnxruntime-node-that-does-not-exist';
    assert.equal(await isOnnxRuntimeAvailable(missing), false);
    await assert.rejects(
      loadOnnxRuntime(missing),
      (e: unknown) => e instanceof OnnxRuntimeUnavailableError && e.moduleName === missing && /tfjs/.test(e.message),
    );
  });
});

const skip = (await isOnnxRuntimeAvailable()) ? false : 'onnxruntime-node is not installed (optional dependency)';

describe('createOnnxSession / runOnnx', { skip }, () => {
  let model: LayersModel;
  let bytes: Uint8Array;

  before(async () => {
    await useTestBackend();
    const input = tf.input({ shape: [size, size, 3] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'swish' });
    const pooled = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(conv.apply(input)) as Symbolic;
    const out = tf.layers.dense({ units: classes, activation: 'softmax' }).apply(pooled) as Symbolic;
    model = tf.model({ inputs: input, outputs: out });
    bytes = exportToOnnx(model);
  });
  after(() => model.dispose());

  test('runs exported bytes and a .onnx file alike, in the tfjs input layout', async (t) => {
    const file = path.join(await tempDir(t), 'model.onnx');
    await writeFile(file, bytes);
    const pixels = patternImages(2, size);
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(pixels, [2, size, size, 3])) as Tensor).dataSync());
    for (const source of [bytes, file]) {
      const session = await createOnnxSession(source);
      assert.equal(session.intraOpThreads, os.availableParallelism());
      assert.equal(session.hasClassifier, true);
      assert.match(session.runtimeVersion, /^\d+\.\d+/);
      const { probabilities, features } = await runOnnx(session, pixels, 2, size);
      assert.equal(features.length, 2 * 4);
      assert.ok(relativeError(probabilities!, expected) < 1e-5);
      await session.release();
    }
  });

  test('a features-only model has no probabilities', async () => {
    const session = await createOnnxSession(exportToOnnx(model, { outputs: 'features-only' }), { intraOpThreads: 1 });
    assert.equal(session.hasClassifier, false);
    const outputs = await runOnnx(session, patternImages(1, size), 1, size);
    assert.equal(outputs.probabilities, undefined);
    assert.equal(outputs.features.length, 4);
    await session.release();
  });

  test('bad inputs and options are typed errors', async () => {
    await assert.rejects(createOnnxSession(bytes, { intraOpThreads: 0 }), InvalidOnnxSessionOptionsError);
    await assert.rejects(createOnnxSession(new Uint8Array([1, 2, 3, 4])), OnnxModelLoadError);
    await assert.rejects(createOnnxSession('/nonexistent/model.onnx'), OnnxModelLoadError);
    const session = await createOnnxSession(bytes, { intraOpThreads: 1 });
    await assert.rejects(runOnnx(session, new Float32Array(10), 1, size), OnnxRunError);
    await assert.rejects(runOnnx(session, new Float32Array(0), 0, size), OnnxRunError);
    // Right length for its own arithmetic, wrong size for the model: onnxruntime's error, wrapped.
    await assert.rejects(runOnnx(session, patternImages(1, size + 1), 1, size + 1), OnnxRunError);
    await session.release();
  });
});
