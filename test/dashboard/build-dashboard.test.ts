import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { buildDashboard, isFresh } from '../../web/build-dashboard.js';
import { tempDir } from '../helpers/temp-dir.js';

test('builds the dashboard into static files that load nothing from elsewhere, and rebuilds only when stale', async (t) => {
  const out = path.join(await tempDir(t, 'effnet-web-build-'), 'dist');
  const first = await buildDashboard(out, { ifStale: true });
  assert.equal(first.built, true);
  t.diagnostic(`vite build: ${first.ms} ms`);

  const html = await fs.readFile(path.join(out, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /\/src\/main\.ts/, 'the entry is replaced by the bundle');
  const referenced = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(
    referenced.some((url) => /^\/assets\/index-[\w-]+\.js$/.test(url)),
    referenced.join(' '),
  );
  assert.ok(
    referenced.some((url) => /^\/assets\/index-[\w-]+\.css$/.test(url)),
    'uPlot and our styles',
  );
  for (const url of referenced) {
    assert.match(url, /^(\/assets\/|data:)/, `served locally: ${url}`);
    if (url.startsWith('/assets/')) await fs.access(path.join(out, url));
  }
  const css = await fs.readFile(
    path.join(
      out,
      referenced.find((url) => url.endsWith('.css'))!,
    ),
    'utf8',
  );
  assert.doesNotMatch(css, /@import|url\(["']?https?:/, 'no stylesheet or font from a CDN');

  assert.equal(isFresh(out), true);
  const second = await buildDashboard(out, { ifStale: true });
  assert.equal(second.built, false, 'an up-to-date build is kept');

  // A build of other sources (as after a pull) is stale and replaced.
  await fs.writeFile(path.join(out, 'build-stamp.json'), JSON.stringify({ sourceHash: 'older' }));
  assert.equal(isFresh(out), false);
  assert.equal((await buildDashboard(out, { ifStale: true })).built, true);
  assert.equal(isFresh(out), true);
  const siblings = await fs.readdir(path.dirname(out));
  assert.deepEqual(siblings, ['dist'], 'no temporary build directory is left behind');
});
