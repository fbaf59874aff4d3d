import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { build } from '../helpers/build-app.js';

describe('API keys', () => {
  test('with API_KEYS set, /v1 needs a valid bearer key; health, readiness, metrics and docs stay open', async (t) => {
    const app = await build(t, { API_KEYS: 'alpha-key,beta-key' });
    for (const [headers, expected] of [
      [{}, 401],
      [{ authorization: 'Bearer wrong' }, 401],
      [{ authorization: 'Bearer alpha-key-but-longer' }, 401],
      [{ authorization: 'Basic alpha-key' }, 401],
      [{ authorization: 'Bearer alpha-key' }, 200],
      [{ authorization: 'bearer beta-key' }, 200],
    ] as const) {
      const res = await app.inject({ url: '/v1/architectures', headers });
      assert.equal(res.statusCode, expected, JSON.stringify(headers));
      if (expected === 401) {
        assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="effnet-tl"');
        assert.equal(res.json().status, 401);
      }
    }
    for (const url of ['/health', '/ready', '/metrics', '/docs/']) {
      assert.equal((await app.inject(url)).statusCode, 200, url);
    }
  });

  test('without API_KEYS (loopback only) requests need no key', async (t) => {
    const app = await build(t);
    assert.equal((await app.inject('/v1/architectures')).statusCode, 200);
  });
});
