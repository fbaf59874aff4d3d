import multipart from '@fastify/multipart';
import sensible from '@fastify/sensible';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import openapi from './plugins/openapi.js';
import problemDetails from './plugins/problem-details.js';
import { computePlugin, configPlugin, storagePlugin, trainingQueuePlugin } from './plugins/services.js';
import health from './routes/health.js';

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
    bodyLimit: 32 * 1024 * 1024,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(sensible);
  await app.register(problemDetails);
  await app.register(multipart, {
    limits: { fileSize: config.limits.uploadBytes, files: config.limits.predictInstances },
  });
  await app.register(openapi);

  await app.register(configPlugin, { config });
  await app.register(storagePlugin);
  await app.register(computePlugin);
  await app.register(trainingQueuePlugin);

  await app.register(health);
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
