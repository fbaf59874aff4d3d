import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { describe, test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { generateOpenapiYaml, openapiPath } from '../../src/cli/write-openapi.js';
import { startLocalRedis } from '../../src/services/local-redis.js';
import { build, testConfig } from '../helpers/build-app.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('health and readiness', () => {
  test('GET /health answers 200', async (t) => {
    const app = await build(t);
    const res = await app.inject('/health');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  test('GET /ready names the wasm backend and why the native ones were skipped', async (t) => {
    const app = await build(t);
    const res = await app.inject('/ready');
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.status, 'ready');
    assert.equal(body.redis, 'ok');
    assert.equal(body.backend.name, 'wasm');
    assert.match(body.backend.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(
      body.backend.skipped.map((s: { name: string }) => s.name),
      ['node-gpu', 'node'],
    );
    assert.deepEqual(body.inference, { engine: 'onnxruntime', backend: 'wasm' });
  });

  test('GET /ready is 503 problem+json while Redis is down, and recovers when it returns', async (t) => {
    const dir = await tempDir(t);
    const redis = await startLocalRedis(dir, { persist: false });
    t.after(() => redis.stop());
    const config = await testConfig(t, { REDIS_URL: redis.url });
    const app = await buildApp({ config, logger: false });
    t.after(() => app.close());
    assert.equal((await app.inject('/ready')).statusCode, 200);

    await redis.stop();
    const down = await app.inject('/ready');
    assert.equal(down.statusCode, 503);
    assert.match(down.headers['content-type'] as string, /^application\/problem\+json/);
    assert.equal(down.json().status, 503);
    assert.equal(down.json().redis, 'unreachable');
    assert.equal((await app.inject('/health')).statusCode, 200);

    const again = await startLocalRedis(dir, { persist: false, port: redis.port });
    t.after(() => again.stop());
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = (await app.inject('/ready')).statusCode;
    }
    assert.equal(status, 200);
  });

  test('unknown routes are 404 problem+json', async (t) => {
    const app = await build(t);
    const res = await app.inject('/v1/nothing-here?x=1');
    assert.equal(res.statusCode, 404);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    assert.deepEqual(res.json(), {
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'No route GET /v1/nothing-here',
      instance: '/v1/nothing-here',
    });
  });

  test('/docs serves Swagger UI over the generated spec, and openapi.yaml is not stale', async (t) => {
    const app = await build(t);
    const ui = await app.inject('/docs/');
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger-ui/i);
    const spec = await app.inject('/docs/json');
    assert.equal(spec.json().openapi, '3.0.3');
    assert.ok(spec.json().paths['/ready']);
    const committed = await fs.readFile(openapiPath, 'utf8');
    assert.equal(
      committed,
      await generateOpenapiYaml(app.config.redisUrl),
      'openapi.yaml is stale: run `npm run openapi`',
    );
  });
});
