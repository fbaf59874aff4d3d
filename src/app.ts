import multipart from '@fastify/multipart';
import sensible from '@fastify/sensible';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import apiKeyAuth from './plugins/api-key-auth.js';
import batchJobs from './plugins/batch-jobs.js';
import metrics from './plugins/metrics.js';
import openapi from './plugins/openapi.js';
import problemDetails from './plugins/problem-details.js';
import rateLimits from './plugins/rate-limits.js';
import sharedSchemas from './plugins/shared-schemas.js';
import {
  computePlugin,
  configPlugin,
  datasetsPlugin,
  inferencePlugin,
  storagePlugin,
  trainingQueuePlugin,
} from './plugins/services.js';
import architectureRoutes from './routes/architectures.js';
import batchJobRoutes from './routes/batch-jobs.js';
import dashboard from './routes/dashboard.js';
import datasetRoutes from './routes/datasets.js';
import health from './routes/health.js';
import jobRoutes from './routes/jobs.js';
import modelRoutes from './routes/models.js';
import tfServingRoutes from './routes/tf-serving.js';

export interface BuildAppOptions {
  config: Config;
  logger?: FastifyServerOptions['logger'];
}

export function loggerOptions(config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty' } } : {}),
  };
}

/** External plugins first, then our services, then the routes (the fastify/demo order). */
export async function buildApp({ config, logger }: BuildAppOptions) {
  const app = Fastify({
    logger: logger ?? loggerOptions(config),
    // JSON bodies only: multipart uploads are streamed and limited by UPLOAD_MAX_BYTES.
    bodyLimit: config.limits.jsonBodyBytes,
    // Multipart bodies are streamed, so their documented schemas carry no `type` (see routes/models.ts).
    ajv: { customOptions: { strictTypes: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Every body is JSON or multipart; without this, a text/plain body would reach the schemas as a string and be
  // answered "body must be object" instead of 415 Unsupported Media Type.
  app.removeContentTypeParser('text/plain');
  await app.register(sensible);
  await app.register(sharedSchemas);
  await app.register(problemDetails);
  await app.register(multipart, {
    limits: { fileSize: config.limits.uploadBytes, files: config.limits.predictInstances },
  });
  await app.register(openapi);

  await app.register(configPlugin, { config });
  await app.register(apiKeyAuth);
  await app.register(storagePlugin);
  await app.register(computePlugin);
  await app.register(trainingQueuePlugin);
  await app.register(rateLimits);
  await app.register(datasetsPlugin);
  await app.register(inferencePlugin);
  await app.register(batchJobs);

  await app.register(metrics);
  await app.register(health);
  await app.register(
    async (v1) => {
      await v1.register(architectureRoutes);
      await v1.register(datasetRoutes);
      await v1.register(jobRoutes);
      await v1.register(modelRoutes);
      await v1.register(tfServingRoutes);
      await v1.register(batchJobRoutes);
    },
    { prefix: '/v1' },
  );
  await app.register(dashboard);
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
