import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build } from '../helpers/build-app.js';

test('job creation is rate limited per API key, with a 429 problem+json', async (t) => {
  const app = await build(t, { API_KEYS: 'key-a,key-b', RATE_LIMIT_JOBS: '3' });
  // An unknown dataset answers 404 after the limit check, so no job is queued by this test.
  const create = (key: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${key}` },
      payload: { datasetId: 'ds-none', architecture: 'efficientnet-b0', weights: 'none', head: { epochs: 1 } },
    });
  for (let i = 0; i < 3; i++) assert.equal((await create('key-a')).statusCode, 404);
  const limited = await create('key-a');
  assert.equal(limited.statusCode, 429, limited.body);
  assert.match(limited.headers['content-type'] as string, /^application\/problem\+json/);
  assert.match(limited.json().detail, /at most 3 of these requests per 1 minute/);
  assert.ok(Number(limited.headers['retry-after']) > 0);
  // Another key has its own budget.
  assert.equal((await create('key-b')).statusCode, 404);
  // Reads are not limited.
  for (let i = 0; i < 5; i++) {
    assert.equal((await app.inject({ url: '/v1/jobs', headers: { authorization: 'Bearer key-a' } })).statusCode, 200);
  }
});

test('without API keys, made-up bearer tokens share their address budget', async (t) => {
  const app = await build(t, { RATE_LIMIT_JOBS: '2' });
  const create = (token: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${token}` },
      payload: { datasetId: 'ds-none', architecture: 'efficientnet-b0', weights: 'none', head: { epochs: 1 } },
    });
  assert.equal((await create('made-up-1')).statusCode, 404);
  assert.equal((await create('made-up-2')).statusCode, 404);
  assert.equal((await create('made-up-3')).statusCode, 429, 'a fresh token is no fresh budget');
});
