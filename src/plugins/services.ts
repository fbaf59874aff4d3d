import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { selectBackend, type BackendInfo } from '../compute/backend.js';
import type { Config } from '../config.js';
import { FileStorage } from '../services/file-storage.js';
import { TrainingQueue } from '../services/training-queue.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    storage: FileStorage;
    compute: BackendInfo;
    trainingQueue: TrainingQueue;
  }
}

/** Our own services, each a plain module built from config; the app only decorates itself with them. */
export const configPlugin = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    app.decorate('config', opts.config);
  },
  { name: 'config' },
);

export const storagePlugin = fp(
  async (app: FastifyInstance) => {
    const storage = new FileStorage(app.config.dataDir);
    await storage.init();
    app.decorate('storage', storage);
  },
  { name: 'storage', dependencies: ['config'] },
);

export const computePlugin = fp(
  async (app: FastifyInstance) => {
    const info = await selectBackend(app.config.tfBackend);
    const skipped = info.attempts.filter((attempt) => !attempt.ok);
    app.log.info({ backend: info.name, version: info.version, skipped }, `compute backend: ${info.name}`);
    app.decorate('compute', info);
  },
  { name: 'compute', dependencies: ['config'] },
);

export const trainingQueuePlugin = fp(
  async (app: FastifyInstance) => {
    const { redisUrl, queuePrefix } = app.config;
    if (!redisUrl) throw new Error('REDIS_URL is required by the api (npm start provides a private Redis)');
    const queue = new TrainingQueue({ redisUrl, prefix: queuePrefix });
    app.decorate('trainingQueue', queue);
    app.addHook('onClose', () => queue.close());
  },
  { name: 'training-queue', dependencies: ['config'] },
);
