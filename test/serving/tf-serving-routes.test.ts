import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { App } from '../../src/app.js';
import { SeededRandom } from '../../src/data/seeded-random.js';
import { float32Number } from '../../src/serving/tf-serving-response.js';
import { build } from '../helpers/build-app.js';
import { drawShape, encodeRaw } from '../helpers/image-fixtures.js';
import { writeModelFixture } from '../helpers/model-fixture.js';
import { useTestBackend } from '../helpers/tf-backend.js';

// TF Serving's REST API (tensorflow_serving/g3doc/api_rest.md) on a registered 3-class B0 at 32 px. Each
// request format of the docs, adapted to our one input `pixels`, with the exact JSON it must answer: the
// numbers are our own /predict and /features answers for the same images, printed as float32.

const size = 32;
const classes = ['circle', 'square', 'triangle'];
const id = 'mdl-fixture';
const json = 'application/json; charset=utf-8';
let app: App;
/** build()'s cleanups (close the app, remove its DATA_DIR), run once after the whole file. */
const cleanups: Array<() => unknown> = [];
/** Two [32, 32, 3] nested pixel lists and the same images as PNG, base64. */
let pixels: number[][][][];
let b64: string[];
/** Our own API's answers for those images: probabilities in class index order, and features. */
let probabilities: number[][];
let features: number[][];

function nested(data: Buffer): number[][][] {
  return Array.from({ length: size }, (_, y) =>
    Array.from({ length: size }, (_, x) => Array.from(data.subarray((y * size + x) * 3, (y * size + x) * 3 + 3))),
  );
}

const asFloat32 = (rows: number[][]) => rows.map((row) => row.map(float32Number));

async function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

before(async () => {
  await useTestBackend();
  // One app for the whole file (build() cleanups would otherwise run when this hook ends).
  app = await build({ after: ((fn: () => unknown) => void cleanups.push(fn)) as TestContext['after'] });
  await writeModelFixture(app.config.dataDir, { id, classes, imageSize: size });
  const rng = new SeededRandom(11);
  const raw = [drawShape('circle', [220, 40, 40], size, rng), drawShape('square', [30, 90, 230], size, rng)];
  pixels = raw.map(nested);
  b64 = (await Promise.all(raw.map((r) => encodeRaw(r, size, size)))).map((png) => png.toString('base64'));
  const instances = b64.map((b) => ({ b64: b }));
  const predicted = await post(`/v1/models/${id}/predict?topK=3`, { instances });
  assert.equal(predicted.statusCode, 200, predicted.body);
  probabilities = predicted
    .json()
    .predictions.map((p: { topK: { label: string; probability: number }[] }) =>
      classes.map((c) => p.topK.find((s) => s.label === c)!.probability),
    );
  features = (await post(`/v1/models/${id}/features`, { instances })).json().features;
});

describe('TF Serving: model status and metadata', () => {
  test('GET /v1/models/{name}/versions/1 is GetModelStatusResponse; our GET /v1/models/{id} carries it too', async () => {
    const status = {
      model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
    };
    const versioned = await app.inject({ method: 'GET', url: `/v1/models/${id}/versions/1` });
    assert.equal(versioned.statusCode, 200);
    assert.equal(versioned.headers['content-type'], json);
    assert.deepEqual(versioned.json(), status);

    const ours = await app.inject({ method: 'GET', url: `/v1/models/${id}` });
    assert.equal(ours.statusCode, 200);
    assert.deepEqual(ours.json().model_version_status, status.model_version_status);
    assert.equal(ours.json().id, id);
    assert.deepEqual(ours.json().classes, classes);
  });

  test('GET /v1/models/{name}/metadata is GetModelMetadataResponse with both signatures', async () => {
    const tensor = (name: string, dims: number[]) => ({
      dtype: 'DT_FLOAT',
      tensor_shape: { dim: dims.map((d) => ({ size: String(d), name: '' })), unknown_rank: false },
      name: `${name}:0`,
    });
    const input = { pixels: tensor('pixels', [-1, size, size, 3]) };
    const expected = {
      model_spec: { name: id, signature_name: '', version: '1' },
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: {
              inputs: input,
              outputs: { probabilities: tensor('probabilities', [-1, 3]) },
              method_name: 'tensorflow/serving/predict',
              defaults: {},
            },
            features: {
              inputs: input,
              outputs: { features: tensor('features', [-1, 1280]) },
              method_name: 'tensorflow/serving/predict',
              defaults: {},
            },
          },
        },
      },
    };
    for (const url of [`/v1/models/${id}/metadata`, `/v1/models/${id}/versions/1/metadata`]) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
      assert.deepEqual(response.json(), expected, url);
    }
  });
});

describe('TF Serving: :predict in the documented formats', () => {
  test('row format, a list of tensors ("instances": [ [[1, 2]], [[3, 4]] ] in the docs): pixel arrays', async () => {
    const response = await post(`/v1/models/${id}:predict`, { instances: pixels });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['content-type'], json);
    assert.deepEqual(response.json(), { predictions: asFloat32(probabilities) });
  });

  test('row format, binary values ({"b64": …}), on the versioned path', async () => {
    const response = await post(`/v1/models/${id}/versions/1:predict`, { instances: b64.map((b) => ({ b64: b })) });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { predictions: asFloat32(probabilities) });
  });

  test('row format, a list of objects with the named input, each as pixels or b64', async () => {
    const response = await post(`/v1/models/${id}:predict`, {
      instances: [{ pixels: pixels[0] }, { pixels: { b64: b64[1] } }],
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { predictions: asFloat32(probabilities) });
  });

  test('columnar format ({"inputs": {name: batch}}, and a bare batch) answers "outputs"', async () => {
    for (const inputs of [{ pixels }, pixels]) {
      const response = await post(`/v1/models/${id}:predict`, { inputs });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), { outputs: asFloat32(probabilities) });
    }
  });

  test('signature_name "features" answers the avg_pool embeddings /features gives', async () => {
    const response = await post(`/v1/models/${id}:predict`, { signature_name: 'features', instances: pixels });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { predictions: asFloat32(features) });
  });

  test('any content type is read as JSON, as curl -d (form-urlencoded) in the docs sends it', async () => {
    const response = await post(
      `/v1/models/${id}:predict`,
      { instances: [pixels[0]] },
      { 'content-type': 'application/x-www-form-urlencoded' },
    );
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { predictions: asFloat32(probabilities.slice(0, 1)) });
  });
});

describe('TF Serving: errors are {"error": "…"} with TF Serving statuses', () => {
  const cases: Array<{ name: string; url?: string; body: unknown; status: number; error: string | RegExp }> = [
    {
      name: "the docs' unknown model (half_plus_three's request to /v1/models/half:predict)",
      url: '/v1/models/half:predict',
      body: { instances: [1.0, 5.0] },
      status: 404,
      error: 'Servable not found for request: Latest(half)',
    },
    {
      name: 'an unknown version',
      url: `/v1/models/${id}/versions/2:predict`,
      body: { instances: [1.0] },
      status: 404,
      error: `Servable not found for request: Specific(${id}, 2)`,
    },
    {
      name: "the docs' half_plus_three request, scalars where images belong",
      body: { instances: [1.0, 2.0, 5.0] },
      status: 400,
      error:
        "Failed to process element: 0 of 'instances' list. Error: expected an [32, 32, 3] array of pixels or " +
        '{"b64": …}, got 1',
    },
    {
      name: 'both formats at once',
      body: { instances: [], inputs: [] },
      status: 400,
      error: "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist",
    },
    { name: 'neither format', body: { signature_name: '' }, status: 400, error: "Missing 'inputs' or 'instances' key" },
    { name: 'no instances', body: { instances: [] }, status: 400, error: "No values in 'instances' array" },
    {
      name: 'an unknown signature',
      body: { signature_name: 'classify', instances: [pixelsLater(0)] },
      status: 400,
      error: 'Serving signature name: "classify" not found in signature def',
    },
    { name: 'not JSON', body: '{"instances": [', status: 400, error: /^JSON Parse error: / },
    { name: 'an empty body', body: '', status: 400, error: 'JSON Parse error: The document is empty' },
    {
      name: 'pixels of another size',
      body: { instances: [[[[0, 0, 0]]]] },
      status: 400,
      error:
        "Failed to process element: 0 of 'instances' list. Error: expected pixels of shape [32, 32, 3] (the " +
        "model's input size, RGB), got [1, 1, 3]",
    },
    {
      name: 'pixels scaled to 0..1',
      body: { inputs: [scaledLater()] },
      status: 400,
      error:
        "'inputs' item 0: pixel values must be integers 0..255 (RGB, as Keras EfficientNet takes them), got 0.5 " +
        'at [0, 0, 0]',
    },
    {
      name: 'bad base64',
      body: { instances: [{ b64: '%%%' }] },
      status: 400,
      error: "Failed to process element: 0 of 'instances' list. Error: Unable to base64 decode",
    },
    {
      name: 'a mix of named and plain instances',
      body: { instances: [{ pixels: 1 }, [1]] },
      status: 400,
      error: 'Expecting object but got list at item 1 of input list',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body, resolveLater);
      const response = await post(c.url ?? `/v1/models/${id}:predict`, body);
      assert.equal(response.statusCode, c.status, response.body);
      assert.equal(response.headers['content-type'], json);
      const answer = response.json();
      assert.deepEqual(Object.keys(answer), ['error']);
      if (typeof c.error === 'string') assert.equal(answer.error, c.error);
      else assert.match(answer.error, c.error);
    });
  }

  test('an undecodable b64 image names the instance', async () => {
    const response = await post(`/v1/models/${id}:predict`, {
      instances: [{ b64: b64[0] }, { b64: Buffer.from('not an image').toString('base64') }],
    });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { error: 'instances[1]: not an image' });
  });

  test('an unknown model on the status and metadata routes', async () => {
    for (const [url, request] of [
      ['/v1/models/half/metadata', 'Latest(half)'],
      ['/v1/models/half/versions/1', 'Specific(half, 1)'],
    ]) {
      const response = await app.inject({ method: 'GET', url: url! });
      assert.equal(response.statusCode, 404, url);
      assert.deepEqual(response.json(), { error: `Servable not found for request: ${request}` }, url);
    }
  });
});

describe('TF Serving routes share the API keys', () => {
  test('401 as {"error": …}; with the key, the same request succeeds', async (t) => {
    const secured = await build(t, { API_KEYS: 'k1' });
    await writeModelFixture(secured.config.dataDir, { id, classes, imageSize: size });
    const request = (headers: Record<string, string>) =>
      secured.inject({ method: 'GET', url: `/v1/models/${id}/metadata`, headers });
    const denied = await request({});
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.headers['content-type'], json);
    assert.deepEqual(denied.json(), { error: 'send an API key as "Authorization: Bearer <key>"' });
    assert.equal((await request({ authorization: 'Bearer k1' })).statusCode, 200);
  });
});

// Test cases are declared before `before` has made the images; these placeholders are filled in when sent.
function pixelsLater(index: number): string {
  return `@pixels${index}`;
}
function scaledLater(): string {
  return '@scaled';
}
function resolveLater(_key: string, value: unknown): unknown {
  if (value === '@pixels0') return pixels[0];
  if (value === '@scaled') return pixels[0]!.map((row) => row.map((px) => px.map(() => 0.5)));
  return value;
}
