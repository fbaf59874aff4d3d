import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tf, type Tensor } from '../../src/compute/tf.js';
import { decodeImage } from '../../src/data/image-decode.js';
import { SeededRandom } from '../../src/data/seeded-random.js';
import { featureExtractor } from '../../src/model/feature-extractor.js';
import { imagenetClassNames } from '../../src/model/imagenet-classes.js';
import { float32Number } from '../../src/serving/tf-serving-response.js';
import { build } from '../helpers/build-app.js';
import { drawShape, encodeRaw } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { useTestBackend } from '../helpers/tf-backend.js';
import { kerasB0Weights, type KerasB0Weights } from './keras-b0-weights.js';

// A B0 at 32 px from Keras-layout .h5 files in WEIGHTS_DIR, served with no job ever run: listed, /features,
// then /predict once the with-top file arrives (a changed WEIGHTS_DIR rebuilds the model).

const imageSize = 32;
const id = 'efficientnet-b0-imagenet';
let scratch: string;
let weights: KerasB0Weights;
let images: Buffer[];

async function expected(pixels: Buffer[]): Promise<{ features: number[][]; probabilities: number[][] }> {
  const decoded = await Promise.all(pixels.map((p) => decodeImage(p, { size: imageSize })));
  const extractor = featureExtractor(weights.model);
  return tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(decoded.flatMap((d) => Array.from(d.data))), [
      decoded.length,
      imageSize,
      imageSize,
      3,
    ]);
    const features = (extractor.predict(x) as Tensor).arraySync() as number[][];
    const probabilities = (weights.model.predict(x) as Tensor).arraySync() as number[][];
    return { features, probabilities };
  });
}

function assertClose(actual: number[][], wanted: number[][], tolerance: number): void {
  assert.equal(actual.length, wanted.length);
  actual.forEach((row, i) => {
    assert.equal(row.length, wanted[i]!.length);
    const scale = Math.max(...wanted[i]!.map(Math.abs));
    const worst = Math.max(...row.map((v, j) => Math.abs(v - wanted[i]![j]!)));
    assert.ok(worst <= tolerance * scale, `row ${i}: off by ${worst} (scale ${scale})`);
  });
}

before(async () => {
  await useTestBackend();
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'effnet-base-'));
  weights = await kerasB0Weights(scratch, imageSize);
  const rng = new SeededRandom(3);
  images = await Promise.all(
    (['circle', 'square'] as const).map((shape, i) =>
      encodeRaw(drawShape(shape, i === 0 ? [220, 40, 40] : [30, 90, 230], 40, rng), 40, 40),
    ),
  );
});

after(async () => {
  weights.model.dispose();
  await fs.rm(scratch, { recursive: true, force: true });
});

describe('ImageNet base models from WEIGHTS_DIR', () => {
  test('a notop .h5 is a listed model with /features; /predict and DELETE say why not', async (t) => {
    const weightsDir = await tempDir(t, 'effnet-weights-');
    await weights.writeNotop(weightsDir);
    const app = await build(t, {
      WEIGHTS_DIR: weightsDir,
      WEIGHTS_VERIFY: 'false',
      BASE_MODEL_IMAGE_SIZE: String(imageSize),
    });

    const list = await app.inject({ method: 'GET', url: '/v1/models' });
    assert.equal(list.statusCode, 200);
    const listed = list.json().models;
    assert.deepEqual(
      listed.map((m: { id: string; source: string; jobId: null; classes: string[]; featureDim: number }) => [
        m.id,
        m.source,
        m.jobId,
        m.classes.length,
        m.featureDim,
      ]),
      [[id, 'base', null, 0, 1280]],
    );

    const body = { instances: images.map((image) => ({ b64: image.toString('base64') })) };
    const features = await app.inject({ method: 'POST', url: `/v1/models/${id}/features`, payload: body });
    assert.equal(features.statusCode, 200, features.body);
    assert.equal(features.json().dim, 1280);
    // onnxruntime (BN folded) vs tfjs: the same model within float32 rounding at these activation scales.
    assertClose(features.json().features, (await expected(images)).features, 1e-2);

    // Through TF Serving's :predict, a model without classifier answers its features by default.
    const serving = await app.inject({ method: 'POST', url: `/v1/models/${id}:predict`, payload: body });
    assert.equal(serving.statusCode, 200, serving.body);
    assert.deepEqual(
      serving.json().predictions,
      features.json().features.map((row: number[]) => row.map(float32Number)),
    );

    const predict = await app.inject({ method: 'POST', url: `/v1/models/${id}/predict`, payload: body });
    assert.equal(predict.statusCode, 409);
    assert.equal(predict.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.match(predict.json().detail, /efficientnetb0\.h5/);

    const doomed = await app.inject({ method: 'DELETE', url: `/v1/models/${id}` });
    assert.equal(doomed.statusCode, 409);
    assert.match(doomed.json().detail, /efficientnetb0_notop\.h5 in WEIGHTS_DIR/);

    const model = await app.inject({ method: 'GET', url: `/v1/models/${id}` });
    assert.equal(model.statusCode, 200);
    assert.deepEqual(model.json().formats, ['tfjs', 'onnx']);
  });

  test('adding the with-top .h5 rebuilds the model with /predict over the 1000 ImageNet classes', async (t) => {
    const weightsDir = await tempDir(t, 'effnet-weights-');
    await weights.writeNotop(weightsDir);
    const app = await build(t, {
      WEIGHTS_DIR: weightsDir,
      WEIGHTS_VERIFY: 'false',
      BASE_MODEL_IMAGE_SIZE: String(imageSize),
    });
    const body = { instances: images.map((image) => ({ b64: image.toString('base64') })) };
    const before = await app.inject({ method: 'POST', url: `/v1/models/${id}/features`, payload: body });
    assert.equal(before.statusCode, 200);

    await weights.writeWithTop(weightsDir);
    const listed = (await app.inject({ method: 'GET', url: '/v1/models' })).json().models;
    assert.deepEqual(listed[0].classes, imagenetClassNames());
    assert.equal(listed[0].classes[134], 'crane (n02012849)');

    const predict = await app.inject({ method: 'POST', url: `/v1/models/${id}/predict?topK=3`, payload: body });
    assert.equal(predict.statusCode, 200, predict.body);
    const want = (await expected(images)).probabilities;
    const classes = imagenetClassNames();
    predict
      .json()
      .predictions.forEach((p: { label: string; topK: { label: string; probability: number }[] }, i: number) => {
        const row = want[i]!;
        const best = row.indexOf(Math.max(...row));
        assert.equal(p.label, classes[best]);
        for (const scored of p.topK) {
          assert.ok(Math.abs(scored.probability - row[classes.indexOf(scored.label)]!) < 1e-3, scored.label);
        }
      });
    // The rebuilt model's features are the same weights' (the with-top file holds the same base).
    const after = await app.inject({ method: 'POST', url: `/v1/models/${id}/features`, payload: body });
    assertClose(after.json().features, before.json().features, 1e-2);
  });

  test('a weights file that cannot be built answers 500 with the reason, without server paths', async (t) => {
    const weightsDir = await tempDir(t, 'effnet-weights-');
    await fs.writeFile(path.join(weightsDir, 'efficientnetb1_notop.h5'), 'not an HDF5 file');
    const app = await build(t, { WEIGHTS_DIR: weightsDir, WEIGHTS_VERIFY: 'false' });
    const listed = (await app.inject({ method: 'GET', url: '/v1/models' })).json().models;
    assert.deepEqual(
      listed.map((m: { id: string; imageSize: number }) => [m.id, m.imageSize]),
      [['efficientnet-b1-imagenet', 240]],
    );
    for (let i = 0; i < 2; i++) {
      const response = await app.inject({ method: 'GET', url: '/v1/models/efficientnet-b1-imagenet' });
      assert.equal(response.statusCode, 500);
      assert.equal(
        response.json().detail,
        "base model 'efficientnet-b1-imagenet' could not be built from efficientnetb1_notop.h5: " +
          'efficientnetb1_notop.h5 is not a usable weights file: no HDF5 signature',
      );
    }
  });
});
