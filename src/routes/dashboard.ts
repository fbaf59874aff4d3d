import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendProblem } from '../plugins/problem-details.js';

/**
 * The built dashboard (web/, built by web/build-dashboard.ts). From src/routes/ under tsx this is the checkout's
 * web/dist; from dist/src/routes/ after `npm run build` it is dist/web/dist, where scripts/build.mjs puts it.
 */
export const defaultDashboardDir = fileURLToPath(new URL('../../web/dist', import.meta.url));

export interface DashboardOptions {
  /** Where index.html and assets/ are; defaults to defaultDashboardDir. */
  dir?: string;
}

// Everything the page loads comes from this origin; the API is called with fetch (connect-src 'self').
const contentSecurityPolicy = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The dashboard at `/` (index.html) and `/assets/` (content-hashed, so cached for a year). Nothing else: the API,
 * probes, metrics and /docs keep their paths. The page needs no API key to load (the auth plugin lets these paths
 * through); it asks for one when index.html says keys are on. Without a build, `/` answers a 503 that says how
 * to make one instead of failing.
 */
export default async function dashboard(app: FastifyInstance, options: DashboardOptions = {}) {
  const dir = options.dir ?? defaultDashboardDir;
  const keysOn = app.config.apiKeys.length > 0;

  await app.register(fastifyStatic, {
    root: path.join(dir, 'assets'),
    prefix: '/assets/',
    decorateReply: false,
    index: false,
    maxAge: '365d',
    immutable: true,
    // The build may appear after the server started (`npm run build:web`); files are looked up per request.
    wildcard: true,
    schemaHide: true,
    logLevel: 'warn',
  });

  app.get('/', { schema: { hide: true }, logLevel: 'warn' }, async (request, reply) => {
    const index = path.join(dir, 'index.html');
    if (!existsSync(index)) {
      return sendProblem(reply, request, {
        type: 'https://effnet-tl.dev/problems/dashboard-not-built',
        title: 'Service Unavailable',
        status: 503,
        detail:
          `the dashboard is not built (no ${path.relative(process.cwd(), index) || index}): run ` +
          '`npm run build:web` (npm start does it when needed; npm run build includes it). The API works without it.',
      });
    }
    const html = (await fs.readFile(index, 'utf8')).replace(
      /<meta name="effnet-api-keys" content="[a-z]*"/,
      `<meta name="effnet-api-keys" content="${keysOn ? 'on' : 'off'}"`,
    );
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', contentSecurityPolicy)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(html);
  });
}
