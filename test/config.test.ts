import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  test('applies defaults and converts types', () => {
    const config = loadConfig({ PORT: '8081', WEIGHTS_VERIFY: 'false', DATA_DIR: '/tmp/x', API_KEYS: ' a, b ,' });
    assert.equal(config.port, 8081);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.weightsVerify, false);
    assert.equal(config.weightsDir, '/tmp/x/weights');
    assert.equal(config.tfBackend, 'auto');
    assert.deepEqual(config.apiKeys, ['a', 'b']);
  });

  test('names every invalid variable', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', TF_BACKEND: 'gpu', REDIS_URL: 'localhost:6379' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.problems.length, 3);
        assert.match(error.message, /PORT="eighty"/);
        assert.match(error.message, /TF_BACKEND="gpu".*node-gpu, node, wasm or cpu/);
        assert.match(error.message, /REDIS_URL="localhost:6379"/);
        return true;
      },
    );
  });

  test('refuses a non-loopback HOST without API_KEYS', () => {
    assert.throws(() => loadConfig({ HOST: '0.0.0.0' }), /HOST=0\.0\.0\.0 .*API_KEYS must be set/);
    assert.equal(loadConfig({ HOST: '0.0.0.0', API_KEYS: 'secret' }).host, '0.0.0.0');
    assert.equal(loadConfig({ HOST: '::1' }).host, '::1');
  });
});
