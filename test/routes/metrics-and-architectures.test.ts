import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { build } from '../helpers/build-app.js';
import { encodeSolid } from '../helpers/image-fixtures.js';
import { writeModelFixture } from '../helpers/model-fixture.js';

describe('architectures', () => {
  test('GET /v1/architectures lists the 8 variants with Keras sizes, feature widths and base params', async (t) => {
    const app = await build(t);
    const res = await app.inject('/v1/architectures');
    assert.equal(res.statusCode, 200);
    const list = res.json().architectures as Array<{ name: string; featureDim: number; baseParams: number }>;
    assert.deepEqual(
      list.map((a) => a.name),
      ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7'].map((v) => `efficientnet-${v}`),
    );
    assert.deepEqual(
      list.map((a) => a.featureDim),
      [1280, 1280, 1408, 1536, 1792, 2048, 2304, 2560],
    );
    assert.equal(list[0]!.baseParams, 4_049_564);
    assert.equal(list[5]!.baseParams, 28_513_520);
  });

  test("GET /v1/architectures/efficientnet-b5?numClasses=50 is the article's table", async (t) => {
    const app = await build(t);
    const res = await app.inject('/v1/architectures/efficientnet-b5?numClasses=50');
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.head, { total: 28_615_970, trainable: 102_450, nonTrainable: 28_513_520 });
    assert.deepEqual(body.finetune, { total: 28_615_970, trainable: 28_443_234, nonTrainable: 172_736 });
  });

  test('an unknown architecture is 404 problem+json', async (t) => {
    const app = await build(t);
    const res = await app.inject('/v1/architectures/resnet50');
    assert.equal(res.statusCode, 404);
    assert.match(res.json().detail, /architecture 'resnet50'/);
  });
});

describe('metrics', () => {
  test('/metrics reports HTTP latency, jobs by state and inference batches', async (t) => {
    const app = await build(t);
    const modelId = await writeModelFixture(app.config.dataDir);
    const image = (await encodeSolid([200, 20, 20])).toString('base64');
    const predict = await app.inject({
      method: 'POST',
      url: `/v1/models/${modelId}/predict`,
      payload: { instances: [{ b64: image }, { b64: image }] },
    });
    assert.equal(predict.statusCode, 200, predict.body);
    const res = await app.inject('/metrics');
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain/);
    assert.match(
      res.body,
      /effnet_http_request_duration_seconds_count\{method="POST",route="\/v1\/models\/:id\/predict",status="200"\} 1/,
    );
    assert.match(res.body, /effnet_training_jobs\{state="waiting"\} 0/);
    assert.match(res.body, /effnet_training_queue_depth 0/);
    assert.match(res.body, /effnet_inference_batch_size_sum\{kind="predict"\} 2/);
    assert.match(res.body, /effnet_inference_loaded_models\{engine="[a-z]+",backend="wasm"\} 1/);
  });
});
