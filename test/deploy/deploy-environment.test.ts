import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, EnvSchema, loadConfig } from '../../src/config.js';
import { loadCompose, serviceEnvironment } from './compose-file.js';
import { finalStage, parseDockerfile, stageEnvironment } from './dockerfile.js';

/**
 * Every variable the images and the compose file set must be one the service reads (src/config.ts), so a
 * renamed or removed setting fails here instead of being silently ignored in production; and the values must
 * pass the same validation the service runs at start.
 */

/** Set for other software, with the reason; everything else must be in EnvSchema. */
const foreign: Record<string, string> = {
  NODE_ENV: 'read by Node libraries (production defaults)',
  TF_FORCE_GPU_ALLOW_GROWTH: 'read by libtensorflow (GPU memory on demand)',
};

const known = new Set(Object.keys(EnvSchema.properties));
const compose = loadCompose();
const dockerfiles = {
  'docker/Dockerfile': parseDockerfile('docker/Dockerfile'),
  'docker/Dockerfile.gpu': parseDockerfile('docker/Dockerfile.gpu'),
};

function imageEnvironment(dockerfile: string): Record<string, string> {
  const parsed = dockerfiles[dockerfile as keyof typeof dockerfiles];
  assert.ok(parsed, `no Dockerfile ${dockerfile}`);
  return Object.fromEntries(stageEnvironment(parsed, finalStage(parsed)));
}

function assertKnown(where: string, names: string[]) {
  const unknown = names.filter((name) => !known.has(name) && !(name in foreign));
  assert.deepEqual(unknown, [], `${where} sets variables src/config.ts does not read: ${unknown.join(', ')}`);
}

describe('environment set by the deployment files', () => {
  for (const file of Object.keys(dockerfiles)) {
    test(`${file}: every ENV is a setting of src/config.ts, with a valid value`, () => {
      const env = imageEnvironment(file);
      assertKnown(file, Object.keys(env));
      // What an operator must add: the queue, and keys wherever HOST is not loopback.
      assert.doesNotThrow(() => loadConfig({ ...env, REDIS_URL: 'redis://redis:6379', API_KEYS: 'k' }));
    });
  }

  for (const [name, service] of Object.entries(compose.services)) {
    if (!service.build) continue;
    test(`compose service ${name}: every variable is a setting, and image + compose values load`, () => {
      const env = serviceEnvironment(service, { API_KEYS: 'test-key' });
      assertKnown(`compose service ${name}`, Object.keys(env));
      const merged = { ...imageEnvironment(service.build!.dockerfile ?? 'Dockerfile'), ...env };
      const config = loadConfig(merged);
      assert.equal(config.redisUrl, 'redis://redis:6379');
      assert.equal(config.dataDir, '/data');
      assert.equal(config.weightsDir, '/weights');
    });
  }

  test('the api image refuses to start without API_KEYS (HOST=0.0.0.0 is secure by default)', () => {
    const env = imageEnvironment('docker/Dockerfile');
    assert.equal(env.HOST, '0.0.0.0');
    assert.throws(
      () => loadConfig({ ...env, REDIS_URL: 'redis://redis:6379' }),
      (error) => error instanceof ConfigError && /API_KEYS/.test(error.message),
    );
  });
});
