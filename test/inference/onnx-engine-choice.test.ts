import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { InferencePool } from '../../src/inference/inference-pool.js';
import { exportArtifactToOnnx } from '../../src/onnx/export-artifact-onnx.js';
import { encodeSolid } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { writeModelArtifact } from './model-artifact-fixture.js';

function maxRelativeError(a: number[][], b: number[][]): number {
  let diff = 0;
  let scale = 0;
  a.forEach((row, i) =>
    row.forEach((value, j) => {
      diff = Math.max(diff, Math.abs(value - b[i]![j]!));
      scale = Math.max(scale, Math.abs(b[i]![j]!));
    }),
  );
  return diff / scale;
}

test('an artifact with model.onnx is served by onnxruntime, agreeing with tfjs; tfjs serves when onnxruntime is off or absent', async (t) => {
  await useTestBackend();
  const dir = path.join(await tempDir(t), 'model');
  const artifact = await writeModelArtifact(dir, { imageSize: 48, classes: ['a', 'b', 'c'] });
  t.after(() => artifact.model.dispose());
  assert.ok((await exportArtifactToOnnx(dir)) > 1_000_000);
  const images = await Promise.all(
    [
      [250, 20, 20],
      [20, 250, 20],
      [30, 30, 240],
    ].map((rgb) => encodeSolid(rgb as [number, number, number], { width: 64, height: 48 })),
  );

  const run = async (pool: InferencePool) => {
    await pool.start();
    try {
      const features = await pool.features({ modelId: 'm', artifactDir: dir, images });
      const predictions = await pool.predict({ modelId: 'm', artifactDir: dir, images, topK: 3 });
      return { engine: pool.stats().engine, features: features.features, predictions: predictions.predictions };
    } finally {
      await pool.close();
    }
  };
  // The children read these at fork time.
  const withEnv = async (name: string, value: string) => {
    process.env[name] = value;
    try {
      return await run(new InferencePool({ backend: 'wasm' }));
    } finally {
      delete process.env[name];
    }
  };
  const onnx = await run(new InferencePool({ backend: 'wasm' }));
  const tfjs = await withEnv('INFERENCE_ENGINE', 'tfjs');
  // As if onnxruntime-node were not installed (npm install --omit=optional): the import fails.
  const absent = await withEnv('ONNXRUNTIME_MODULE', 'onnxruntime-node-not-installed');
  assert.equal(absent.engine, 'tfjs');
  assert.deepEqual(absent.features, tfjs.features);
  assert.deepEqual(absent.predictions, tfjs.predictions);
  assert.equal(onnx.engine, 'onnxruntime');
  assert.equal(tfjs.engine, 'tfjs');
  const featureError = maxRelativeError(onnx.features, tfjs.features);
  assert.ok(featureError < 1e-4, `features differ by ${featureError}`);
  const probabilities = (r: typeof onnx) =>
    r.predictions.map((p) => [...p.topK].sort((x, y) => x.label.localeCompare(y.label)).map((s) => s.probability));
  const probabilityError = maxRelativeError(probabilities(onnx), probabilities(tfjs));
  assert.ok(probabilityError < 1e-4, `probabilities differ by ${probabilityError}`);
  assert.deepEqual(
    onnx.predictions.map((p) => p.label),
    tfjs.predictions.map((p) => p.label),
  );
});
