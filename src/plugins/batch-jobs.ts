import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { BatchJobSchema } from '../schemas/batch-jobs.js';
import { BatchJobService } from '../services/batch-job-service.js';
import { InferenceQueue } from '../services/inference-queue.js';

declare module 'fastify' {
  interface FastifyInstance {
    batchJobs: BatchJobService;
  }
}

/** The `inference` queue and the batch jobs on it; its BatchJob schema is shared by the batch routes. */
export default fp(
  async function batchJobs(app: FastifyInstance) {
    const { redisUrl, queuePrefix, limits } = app.config;
    if (!redisUrl) throw new Error('REDIS_URL is required by the api (npm start provides a private Redis)');
    app.addSchema(BatchJobSchema);
    const queue = new InferenceQueue({ redisUrl, prefix: queuePrefix });
    app.decorate(
      'batchJobs',
      new BatchJobService(queue, app.storage, queuePrefix, {
        maxEntries: limits.archiveEntries,
        maxTotalBytes: limits.archiveBytes,
        maxCompressionRatio: limits.archiveRatio,
      }),
    );
    app.addHook('onClose', () => queue.close());
  },
  { name: 'batch-jobs', dependencies: ['config', 'storage'] },
);
