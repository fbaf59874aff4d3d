import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createHash } from 'node:crypto';

/** Who a limit counts for: the API key (as a digest, never stored in clear), or the client address. */
function rateLimitKey(request: FastifyRequest): string {
  const token = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
  return token ? `key:${createHash('sha256').update(token).digest('hex').slice(0, 32)}` : `ip:${request.ip}`;
}

/**
 * Per-key rate limits for the expensive writes (uploads, job creation); routes opt in with
 * `config.rateLimit`. Counters live in Redis, so every api replica shares them.
 */
export default fp(
  async function rateLimits(app: FastifyInstance) {
    await app.register(rateLimit, {
      global: false,
      redis: app.trainingQueue.redis,
      nameSpace: `${app.config.queuePrefix}:ratelimit:`,
      keyGenerator: rateLimitKey,
      // Thrown, then answered as problem+json by the app's error handler.
      errorResponseBuilder: (_request, context) => ({
        statusCode: context.statusCode,
        message: `rate limit: at most ${context.max} of these requests per ${context.after}; retry in ${context.after}`,
      }),
    });
  },
  { name: 'rate-limits', dependencies: ['training-queue'] },
);
