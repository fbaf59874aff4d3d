import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sendProblem } from '../plugins/problem-details.js';
import { HealthSchema, ReadySchema, type Ready } from '../schemas/health.js';
import { problemResponse } from '../schemas/problem.js';

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers',
        response: { 200: HealthSchema },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: Redis answers and the compute backend is loaded',
        response: { 200: ReadySchema, 503: problemResponse('Redis is unreachable') },
      },
    },
    async (request, reply) => {
      const redisOk = await app.trainingQueue.ping();
      const inference = app.inference.stats();
      const body: Ready = {
        status: redisOk ? 'ready' : 'unavailable',
        redis: redisOk ? 'ok' : 'unreachable',
        backend: {
          name: app.compute.name,
          version: app.compute.version,
          skipped: app.compute.attempts
            .filter((attempt) => !attempt.ok)
            .map((attempt) => ({ name: attempt.name, reason: attempt.reason ?? '' })),
          ...(app.compute.threads !== undefined && { threads: app.compute.threads }),
          ...(app.compute.threadsFallback !== undefined && { threadsFallback: app.compute.threadsFallback }),
        },
        inference: { engine: inference.engine, backend: inference.backend ?? app.compute.name },
      };
      if (redisOk) return body;
      return sendProblem(reply, request, {
        type: 'https://effnet-tl.dev/problems/not-ready',
        title: 'Service Unavailable',
        status: 503,
        detail: 'Redis is unreachable; the service is not ready to accept or report jobs',
        redis: body.redis,
        backend: body.backend,
        inference: body.inference,
      });
    },
  );
};

export default health;
