import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import Fastify from 'fastify';
import { loadConfig } from '../../src/config.js';
import apiKeyAuth from '../../src/plugins/api-key-auth.js';
import problemDetails from '../../src/plugins/problem-details.js';
import { configPlugin } from '../../src/plugins/services.js';
import dashboard from '../../src/routes/dashboard.js';
import { build } from '../helpers/build-app.js';
import { tempDir } from '../helpers/temp-dir.js';
import { ensureDashboardBuilt } from './browser.js';

const indexHtml =
  '<!doctype html><html><head><meta name="effnet-api-keys" content="off" />' +
  '<script type="module" src="/assets/index-abc123.js"></script></head><body></body></html>';

/** A built dashboard's layout, by hand: index.html and one hashed asset. */
async function fakeBuild(t: TestContext): Promise<string> {
  const dir = await tempDir(t, 'effnet-web-');
  await fs.mkdir(path.join(dir, 'assets'));
  await fs.writeFile(path.join(dir, 'index.html'), indexHtml);
  await fs.writeFile(path.join(dir, 'assets', 'index-abc123.js'), 'console.log("dashboard");\n');
  return dir;
}

/** Just the dashboard, the auth hook and the error handler, plus one API route to compare with. */
async function dashboardApp(t: TestContext, dir: string, env: Record<string, string> = {}) {
  const config = loadConfig({ DATA_DIR: '/nonexistent', LOG_LEVEL: 'silent', ...env });
  const app = Fastify({ logger: false });
  await app.register(problemDetails);
  await app.register(configPlugin, { config });
  await app.register(apiKeyAuth);
  app.get('/v1/ping', async () => ({ pong: true }));
  await app.register(dashboard, { dir });
  t.after(() => app.close());
  return app;
}

test('serves index.html at / (not cached, with a CSP) and hashed assets cached for good', async (t) => {
  const app = await dashboardApp(t, await fakeBuild(t));
  const index = await app.inject({ url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.headers['content-type'] as string, /^text\/html/);
  assert.equal(index.headers['cache-control'], 'no-cache');
  assert.match(index.headers['content-security-policy'] as string, /default-src 'self'/);
  assert.match(index.body, /content="off"/, 'API keys are off');
  const asset = await app.inject({ url: '/assets/index-abc123.js' });
  assert.equal(asset.statusCode, 200);
  assert.match(asset.headers['content-type'] as string, /javascript/);
  assert.match(asset.headers['cache-control'] as string, /max-age=31536000.*immutable/);
  const missing = await app.inject({ url: '/assets/nope.js' });
  assert.equal(missing.statusCode, 404);
  assert.equal((await app.inject({ url: '/assets/../index.html' })).statusCode === 200, false);
});

test('without a build, / is a 503 problem that says how to build it, and the API still works', async (t) => {
  const dir = path.join(await tempDir(t), 'not-built');
  const app = await dashboardApp(t, dir);
  const res = await app.inject({ url: '/' });
  assert.equal(res.statusCode, 503);
  assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
  const problem = res.json() as { detail: string; type: string };
  assert.match(problem.detail, /not built/);
  assert.match(problem.detail, /npm run build:web/);
  assert.match(problem.type, /dashboard-not-built/);
  assert.equal((await app.inject({ url: '/v1/ping' })).statusCode, 200);
});

test('with API_KEYS the page and assets load without a key and say keys are on; the API still needs one', async (t) => {
  const app = await dashboardApp(t, await fakeBuild(t), { API_KEYS: 'k1' });
  const index = await app.inject({ url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.body, /<meta name="effnet-api-keys" content="on"/);
  assert.equal((await app.inject({ url: '/assets/index-abc123.js' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/v1/ping' })).statusCode, 401);
  assert.equal((await app.inject({ url: '/index.html' })).statusCode, 401, 'only / and /assets/ are open');
  assert.equal((await app.inject({ url: '/v1/ping', headers: { authorization: 'Bearer k1' } })).statusCode, 200);
});

test('in the full app the dashboard shadows no route and stays out of the OpenAPI document', async (t) => {
  await ensureDashboardBuilt();
  const app = await build(t);
  const index = await app.inject({ url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.body, /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/);
  for (const url of ['/health', '/v1/architectures', '/docs/json']) {
    assert.equal((await app.inject({ url })).statusCode, 200, url);
  }
  const unknown = await app.inject({ url: '/v1/nothing-here' });
  assert.equal(unknown.statusCode, 404);
  assert.match(unknown.json().detail, /No route GET \/v1\/nothing-here/);
  const paths = Object.keys((await app.inject({ url: '/docs/json' })).json().paths as object);
  assert.ok(!paths.includes('/') && !paths.some((p) => p.startsWith('/assets')), paths.join(' '));
});
