import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

// package.json is two levels up from src/plugins/ (tsx) and three from dist/src/plugins/ (npm run build).
const packageJson = existsSync(new URL('../../package.json', import.meta.url))
  ? '../../package.json'
  : '../../../package.json';
const { version } = createRequire(import.meta.url)(packageJson) as { version: string };

/** OpenAPI from the route schemas (the single source of truth), and Swagger UI at /docs. */
export default fp(
  async function openapi(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'effnet-tl',
          description:
            'Transfer learning on images: upload a labelled dataset, fine-tune EfficientNet B0-B7 in two phases, ' +
            'then get class probabilities (/predict) and penultimate-layer embeddings (/features).',
          version,
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'An API key from API_KEYS (when it is set)' },
          },
        },
        security: [{ bearer: [] }],
      },
      refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  },
  { name: 'openapi' },
);
