import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { selectBackend, type BackendInfo } from '../compute/backend.js';
import type { Config } from '../config.js';
import { InferencePool } from '../inference/inference-pool.js';
import { BaseModels } from '../services/base-models.js';
import { DatasetStore } from '../services/dataset-store.js';
import { FileStorage } from '../services/file-storage.js';
import { JobEvents } from '../services/job-events.js';
import { JobService } from '../services/job-service.js';
import { ModelRegistry } from '../services/model-registry.js';
import { TrainingQueue } from '../services/training-queue.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    storage: FileStorage;
    compute: BackendInfo;
    trainingQueue: TrainingQueue;
    jobs: JobService;
    jobEvents: JobEvents;
    datasets: DatasetStore;
    models: ModelRegistry;
    inference: InferencePool;
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

export const datasetsPlugin = fp(
  async (app: FastifyInstance) => {
    const { limits } = app.config;
    app.decorate(
      'datasets',
      new DatasetStore(app.storage, {
        archive: {
          maxEntries: limits.archiveEntries,
          maxTotalBytes: limits.archiveBytes,
          maxCompressionRatio: limits.archiveRatio,
        },
        imagePixels: limits.imagePixels,
        classes: limits.datasetClasses,
        uploadBytes: limits.uploadBytes,
      }),
    );
    const { weightsDir, weightsVerify, baseModelImageSize, tfBackend } = app.config;
    const baseModels = new BaseModels(app.storage, {
      weightsDir,
      verify: weightsVerify,
      imageSize: baseModelImageSize,
      backend: tfBackend,
      // A rebuilt base model (its weights file changed) must not be served from a child's cache.
      onReplaced: async (id) => {
        if (app.hasDecorator('inference')) await app.inference.evict(id);
      },
      log: app.log,
    });
    app.decorate('models', new ModelRegistry(app.storage, baseModels));
  },
  { name: 'datasets', dependencies: ['storage'] },
);

export const inferencePlugin = fp(
  async (app: FastifyInstance) => {
    const pool = new InferencePool({
      backend: app.config.tfBackend,
      limitInputPixels: app.config.limits.imagePixels,
      log: app.log,
    });
    await pool.start();
    app.decorate('inference', pool);
    app.addHook('onClose', () => pool.close());
  },
  { name: 'inference', dependencies: ['config'] },
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
    const events = new JobEvents({ redisUrl, prefix: queuePrefix });
    app.decorate('trainingQueue', queue);
    app.decorate('jobs', new JobService(queue, queuePrefix, { maxActivePerOwner: app.config.limits.activeJobsPerKey }));
    app.decorate('jobEvents', events);
    app.addHook('onClose', async () => {
      await events.close();
      await queue.close();
    });
  },
  { name: 'training-queue', dependencies: ['config'] },
);
