import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { testRedis } from './redis-server.js';
import { tempDir } from './temp-dir.js';

/**
 * A ready app for `inject`, on the file's throwaway Redis, with its own DATA_DIR and queue prefix so
 * tests never see each other's jobs. Closed when the test ends.
 */
export async function build(t: Pick<TestContext, 'after'>, env: Record<string, string> = {}): Promise<App> {
  const config = await testConfig(t, env);
  const app = await buildApp({ config, logger: false });
  t.after(() => app.close());
  await app.ready();
  return app;
}

export async function testConfig(t: Pick<TestContext, 'after'>, env: Record<string, string> = {}): Promise<Config> {
  const redis = await testRedis();
  return loadConfig({
    DATA_DIR: await tempDir(t, 'effnet-data-'),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `test-${randomUUID()}`,
    TF_BACKEND: process.env.TEST_TF_BACKEND ?? 'auto',
    LOG_LEVEL: 'silent',
    ...env,
  });
}
