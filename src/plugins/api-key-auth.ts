import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createHash, timingSafeEqual } from 'node:crypto';
import { sendProblem } from './problem-details.js';

/**
 * Paths anyone may call: probes, metrics scrapers, the API documentation, and the dashboard's page and assets
 * (it asks for a key itself and sends it with every API call).
 */
const open = [/^\/health$/, /^\/ready$/, /^\/metrics$/, /^\/docs(\/|$)/, /^\/$/, /^\/assets\//];

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Bearer API keys (API_KEYS). With no keys configured (only allowed on a loopback HOST) every request
 * passes. Keys are compared as SHA-256 digests with timingSafeEqual, so neither a key's content nor its
 * length leaks through timing.
 */
export default fp(
  async function apiKeyAuth(app: FastifyInstance) {
    const keys = app.config.apiKeys.map(digest);
    if (keys.length === 0) return;
    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (open.some((pattern) => pattern.test(path))) return;
      const header = request.headers.authorization ?? '';
      const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
      const presented = token ? digest(token) : undefined;
      let ok = false;
      for (const key of keys) if (presented && timingSafeEqual(key, presented)) ok = true;
      if (ok) return;
      reply.header('www-authenticate', 'Bearer realm="effnet-tl"');
      return sendProblem(reply, request, {
        type: 'https://effnet-tl.dev/problems/unauthorized',
        title: 'Unauthorized',
        status: 401,
        detail: token ? 'the API key is not valid' : 'send an API key as "Authorization: Bearer <key>"',
      });
    });
  },
  { name: 'api-key-auth', dependencies: ['config'] },
);
