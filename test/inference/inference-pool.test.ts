import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BackendPreference } from '../../src/compute/backend.js';
import { tf } from '../../src/compute/tf.js';
import { decodeImage } from '../../src/data/image-decode.js';
import { InvalidInstanceImageError } from '../../src/inference/inference-errors.js';
import { InferencePool, type BatchEvent } from '../../src/inference/inference-pool.js';
import { featureExtractor } from '../../src/model/feature-extractor.js';
import { isOnnxRuntimeAvailable } from '../../src/onnx/onnx-engine.js';
import { encodeSolid, TEXT_FILE, truncated, type Rgb } from '../helpers/image-fixtures.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { tempDir } from '../helpers/temp-dir.js';
import { copyArtifact, writeModelArtifact, type ModelArtifact } from './model-artifact-fixture.js';

const backend = (process.env.TEST_TF_BACKEND ?? 'wasm') as BackendPreference;
const classes = ['cat', 'dog', 'fox'];
const colours: Rgb[] = [
  [200, 30, 30],
  [30, 200, 30],
  [30, 30, 200],
  [128, 128, 128],
  [240, 220, 40],
  [10, 10, 10],
  [250, 250, 250],
  [90, 40, 160],
  [20, 160, 170],
  [180, 100, 40],
];

interface Direct {
  probabilities: number[];
  features: number[];
}

/** The model run in this process, one image at a time: what the pool must reproduce. */
async function runDirectly(artifact: ModelArtifact, image: Buffer): Promise<Direct> {
  const size = artifact.imageSize;
  const decoded = await decodeImage(image, { size });
  const extractor = featureExtractor(artifact.model);
  return tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(decoded.data), [1, size, size, 3]);
    return {
      probabilities: Array.from((artifact.model.predict(x) as tf.Tensor).dataSync()),
      features: Array.from((extractor.predict(x) as tf.Tensor).dataSync()),
    };
  });
}

function assertClose(actual: number[], expected: number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)));
  assert.ok(worst <= tolerance, `${what}: differs by ${worst} (> ${tolerance})`);
}

describe('InferencePool', () => {
  let artifact: ModelArtifact;
  let images: Buffer[];
  let direct: Direct[];
  let pool: InferencePool;
  let dir: string;
  const batches: BatchEvent[] = [];

  before(async () => {
    await useTestBackend();
    dir = await mkdtemp(path.join(os.tmpdir(), 'effnet-inference-'));
    artifact = await writeModelArtifact(path.join(dir, 'model-a'), { imageSize: 32, classes });
    images = await Promise.all(colours.map((rgb) => encodeSolid(rgb)));
    direct = await Promise.all(images.map((image) => runDirectly(artifact, image)));
    pool = new InferencePool({
      backend,
      maxBatchSize: 8,
      maxWaitMs: 20,
      limitInputPixels: 100 * 100,
      onBatch: (e) => batches.push(e),
    });
    await pool.start();
  });

  after(async () => {
    await pool?.close();
    artifact?.model.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the images give clearly different answers (else the comparisons below would prove nothing)', () => {
    for (let i = 1; i < direct.length; i++) {
      const gap = Math.max(...direct[i]!.probabilities.map((p, k) => Math.abs(p - direct[0]!.probabilities[k]!)));
      assert.ok(gap > 1e-3, `image ${i} answers like image 0 (gap ${gap})`);
    }
  });

  test('predict: probabilities from the model, labels from metadata, top-k sorted and of the asked length', async () => {
    const result = await pool.predict({ modelId: 'a', artifactDir: artifact.dir, images: images.slice(0, 3), topK: 2 });
    assert.equal(result.predictions.length, 3);
    result.predictions.forEach((prediction, i) => {
      const expected = direct[i]!.probabilities;
      const best = expected.indexOf(Math.max(...expected));
      assert.equal(prediction.label, classes[best]);
      assert.ok(Math.abs(prediction.probability - expected[best]!) <= 1e-5);
      assert.equal(prediction.topK.length, 2);
      assert.deepEqual(prediction.topK[0], { label: prediction.label, probability: prediction.probability });
      assert.ok(prediction.topK[0]!.probability >= prediction.topK[1]!.probability);
      const all = classes.map((label) => prediction.topK.find((t) => t.label === label)?.probability);
      for (const [k, p] of all.entries()) if (p !== undefined) assert.ok(Math.abs(p - expected[k]!) <= 1e-5);
    });

    const full = await pool.predict({ modelId: 'a', artifactDir: artifact.dir, images: [images[3]!], topK: 50 });
    const topK = full.predictions[0]!.topK;
    assert.equal(topK.length, classes.length, 'topK is capped at the number of classes');
    assert.deepEqual(topK.map((t) => t.label).sort(), [...classes].sort());
    assert.ok(Math.abs(topK.reduce((sum, t) => sum + t.probability, 0) - 1) < 1e-5, 'probabilities sum to 1');
    const byLabel = classes.map((label) => topK.find((t) => t.label === label)!.probability);
    assertClose(byLabel, direct[3]!.probabilities, 1e-5, 'probabilities');
  });

  test('features: 1280-wide B0 avg_pool vectors, equal to the model run directly; unit norm with l2', async () => {
    const raw = await pool.features({ modelId: 'a', artifactDir: artifact.dir, images: images.slice(0, 2) });
    assert.equal(raw.dim, 1280);
    raw.features.forEach((vector, i) => {
      const scale = Math.max(...direct[i]!.features.map(Math.abs));
      // The tfjs engine serves the graph with BatchNormalization folded into the convolutions, which rounds
      // differently from the model run directly (about 1e-5 of the largest feature here).
      assertClose(vector, direct[i]!.features, 1e-4 * scale, `features of image ${i}`);
    });
    const unit = await pool.features({
      modelId: 'a',
      artifactDir: artifact.dir,
      images: images.slice(0, 2),
      normalize: 'l2',
    });
    for (const vector of unit.features) {
      assert.equal(vector.length, 1280);
      assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-6);
    }
  });

  test('concurrent single-image requests are batched, and every caller gets its own answer', async () => {
    batches.length = 0;
    const answers = await Promise.all(
      images.map((image) => pool.predict({ modelId: 'a', artifactDir: artifact.dir, images: [image], topK: 3 })),
    );
    const sizes = batches.filter((b) => b.kind === 'predict').map((b) => b.size);
    assert.deepEqual(sizes, [8, 2], `batch sizes ${sizes}`);
    assert.ok(
      pool
        .stats()
        .lastBatchSizes.slice(-2)
        .every((s, i) => s === sizes[i]),
    );
    answers.forEach((answer, i) => {
      const byLabel = classes.map((label) => answer.predictions[0]!.topK.find((t) => t.label === label)!.probability);
      assertClose(byLabel, direct[i]!.probabilities, 1e-5, `caller ${i}`);
    });
  });

  test('a request with more images than maxBatchSize is split and comes back in order', async () => {
    batches.length = 0;
    const result = await pool.predict({ modelId: 'a', artifactDir: artifact.dir, images, topK: 3 });
    assert.deepEqual(
      batches.map((b) => b.size),
      [8, 2],
    );
    result.predictions.forEach((prediction, i) => {
      const byLabel = classes.map((label) => prediction.topK.find((t) => t.label === label)!.probability);
      assertClose(byLabel, direct[i]!.probabilities, 1e-5, `image ${i}`);
    });
  });

  test('a bad image fails its request with the index and reason; a request batched with it is unaffected', async () => {
    // Every promise gets its handler at once: the wasm backend turns an unhandled rejection into a crash.
    const bad = assert.rejects(
      pool.predict({
        modelId: 'a',
        artifactDir: artifact.dir,
        images: [images[0]!, TEXT_FILE, images[1]!, Buffer.alloc(0)],
      }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInstanceImageError);
        assert.equal(error.index, 1);
        assert.equal(error.reason, 'not an image');
        assert.equal(error.status, 400);
        assert.equal(error.message, 'instances[1]: not an image (and 1 more invalid images)');
        assert.deepEqual(error.invalid, [
          { index: 1, reason: 'not an image' },
          { index: 3, reason: 'empty file' },
        ]);
        return true;
      },
    );
    const good = pool.predict({ modelId: 'a', artifactDir: artifact.dir, images: [images[2]!], topK: 3 });
    const broken = assert.rejects(
      pool.features({ modelId: 'a', artifactDir: artifact.dir, images: [truncated(images[4]!, 0.6)] }),
      { name: 'InvalidInstanceImageError', index: 0, reason: 'truncated or corrupt' },
    );
    const huge = assert.rejects(
      pool.predict({ modelId: 'a', artifactDir: artifact.dir, images: [await encodeSolid([1, 2, 3], { width: 128 })] }),
      { name: 'InvalidInstanceImageError', index: 0, reason: 'too many pixels (128×128 > 10000)' },
    );
    await Promise.all([bad, broken, huge]);
    const answer = (await good).predictions[0]!;
    const byLabel = classes.map((label) => answer.topK.find((t) => t.label === label)!.probability);
    assertClose(byLabel, direct[2]!.probabilities, 1e-5, 'the good request');
  });

  test('a model that cannot be loaded fails with ModelLoadError; the pool serves other models on', async () => {
    const missing = path.join(dir, 'no-such-model');
    const failed = assert.rejects(pool.predict({ modelId: 'gone', artifactDir: missing, images: [images[0]!] }), {
      name: 'ModelLoadError',
      modelId: 'gone',
      message: /no metadata\.json/,
    });
    const fine = pool.predict({ modelId: 'a', artifactDir: artifact.dir, images: [images[0]!] });
    await failed;
    assert.equal((await fine).predictions.length, 1);
  });

  test('the child holds no more tensors after many batches than before', async () => {
    const [before] = await pool.memory();
    for (let round = 0; round < 4; round++) {
      await Promise.all([
        pool.predict({ modelId: 'a', artifactDir: artifact.dir, images: images.slice(round, round + 3) }),
        pool.features({ modelId: 'a', artifactDir: artifact.dir, images: [images[round]!], normalize: 'l2' }),
        pool.predict({ modelId: 'a', artifactDir: artifact.dir, images: [TEXT_FILE] }).catch(() => undefined),
      ]);
    }
    const [now] = await pool.memory();
    assert.ok(before!.numTensors > 0);
    assert.equal(now!.numTensors, before!.numTensors);
    assert.equal(now!.numBytes, before!.numBytes);
  });

  test('stats describe the pool', async () => {
    const stats = pool.stats();
    // The engine for artifacts with model.onnx: onnxruntime wherever the optional package loads.
    assert.equal(stats.engine, (await isOnnxRuntimeAvailable()) ? 'onnxruntime' : 'tfjs');
    assert.equal(stats.backend, backend === 'auto' ? stats.backend : backend);
    assert.equal(stats.state, 'running');
    assert.deepEqual(stats.loadedModels, ['a']);
    assert.equal(stats.queueDepth, 0);
    assert.ok(stats.batchesRun >= 10);
    assert.equal(stats.workers.length, 1);
    assert.ok(stats.workers[0]!.pid);
  });

  test('the model cache evicts the least recently used model beyond cacheBytes; evict() drops one', async (t) => {
    const dir = await tempDir(t);
    const [b, c] = await Promise.all([
      copyArtifact(artifact, path.join(dir, 'model-b')),
      copyArtifact(artifact, path.join(dir, 'model-c')),
    ]);
    const bytes = artifact.model.countParams() * 4;
    const small = new InferencePool({ backend, maxWaitMs: 1, cacheBytes: Math.round(bytes * 2.5) });
    t.after(() => small.close());
    await small.start();
    const run = (modelId: string, artifactDir: string) => small.predict({ modelId, artifactDir, images: [images[0]!] });
    await run('a', artifact.dir);
    await run('b', b.dir);
    await run('a', artifact.dir);
    assert.deepEqual((await small.memory())[0]!.loadedModels, ['b', 'a']);
    await run('c', c.dir);
    const [memory] = await small.memory();
    assert.deepEqual(memory!.loadedModels, ['a', 'c'], 'b was the least recently used');
    assert.equal(memory!.cacheBytes, 2 * bytes);
    assert.deepEqual(small.stats().loadedModels, ['a', 'c']);

    assert.equal(await small.evict('a'), true);
    assert.equal(await small.evict('a'), false);
    assert.deepEqual((await small.memory())[0]!.loadedModels, ['c']);
    const again = await run('a', artifact.dir);
    assertClose(
      classes.map((label) => again.predictions[0]!.topK.find((t) => t.label === label)!.probability),
      direct[0]!.probabilities,
      1e-5,
      'reloaded model',
    );
  });
});
