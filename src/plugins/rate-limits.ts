import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createHash } from 'node:crypto';

/**
 * Who a limit counts for: the API key (as a digest, never stored in clear) when keys are on, else the client
 * address. Without API_KEYS a bearer token proves nothing, so counting per token would let a client make up
 * a new one for every request and escape the limit.
 */
function rateLimitKeyFor(keysEnabled: boolean): (request: FastifyRequest) => string {
  return (request) => {
    const token = keysEnabled ? /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim() : undefined;
    return token ? `key:${createHash('sha256').update(token).digest('hex').slice(0, 32)}` : `ip:${request.ip}`;
  };
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
      keyGenerator: rateLimitKeyFor(app.config.apiKeys.length > 0),
      // Thrown, then answered as problem+json by the app's error handler.
      errorResponseBuilder: (_request, context) => ({
        statusCode: context.statusCode,
        message: `rate limit: at most ${context.max} of these requests per ${context.after}; retry in ${context.after}`,
      }),
    });
  },
  { name: 'rate-limits', dependencies: ['training-queue'] },
);
