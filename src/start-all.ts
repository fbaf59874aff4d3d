import closeWithGrace from 'close-with-grace';
import path from 'node:path';
import { createInferenceWorker } from '../workers/create-inference-worker.js';
import { createTrainingWorker } from '../workers/create-training-worker.js';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { watchParent } from './services/parent-watch.js';
import { RedisServerMissingError, startLocalRedis, type LocalRedis } from './services/local-redis.js';

// npm start: the api, one training worker and one inference worker in one process, plus a private
// redis-server when REDIS_URL is unset.
let config = loadConfig();
let redis: LocalRedis | undefined;
if (!config.redisUrl) {
  try {
    redis = await startLocalRedis(path.join(config.dataDir, 'redis'));
  } catch (error) {
    if (error instanceof RedisServerMissingError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  config = { ...config, redisUrl: redis.url };
  // The worker's sandboxed processors are child processes that read their config from the environment.
  process.env.REDIS_URL = redis.url;
}

const app = await buildApp({ config });
const worker = createTrainingWorker(config, app.log.child({ name: 'worker' }));
const inferenceWorker = createInferenceWorker(config, app.log.child({ name: 'inference-worker' }));
await app.listen({ port: config.port, host: config.host });
if (redis) app.log.info({ url: redis.url, pid: redis.process.pid }, 'private redis-server started');

const { close } = closeWithGrace({ delay: 30_000 }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'closing after an uncaught error');
  else app.log.info({ signal }, 'closing');
  await Promise.all([worker.close(), inferenceWorker.close()]);
  await app.close();
  await redis?.stop();
});
watchParent(() => {
  app.log.warn('parent process is gone; closing');
  close();
});
