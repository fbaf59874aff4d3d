import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tempDir } from '../helpers/temp-dir.js';
import { repoRoot } from './dockerfile.js';

/** Runs a docker/ health check script the way Docker does: exit status 0 healthy, 1 unhealthy. */
function runCheck(script: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(repoRoot, 'docker', script)],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 10_000 },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
  });
}

async function serve(status: number): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/health' ? status : 404;
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('docker/api-healthcheck.mjs', () => {
  test('healthy when /health answers 200 on PORT', async (t) => {
    const server = await serve(200);
    t.after(server.close);
    assert.deepEqual(await runCheck('api-healthcheck.mjs', { PORT: String(server.port) }), { code: 0, stderr: '' });
  });

  test('unhealthy when /health answers an error, or nothing listens', async (t) => {
    const server = await serve(503);
    t.after(server.close);
    const failing = await runCheck('api-healthcheck.mjs', { PORT: String(server.port) });
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /answered 503/);
    const closed = await serve(200);
    await closed.close();
    const refused = await runCheck('api-healthcheck.mjs', { PORT: String(closed.port) });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /unreachable/);
  });
});

describe('docker/worker-healthcheck.mjs', () => {
  test('healthy with a fresh heartbeat, unhealthy with a stale, missing or unconfigured one', async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'heartbeat');
    await fs.writeFile(file, 'now\n');
    assert.equal((await runCheck('worker-healthcheck.mjs', { WORKER_HEARTBEAT_FILE: file })).code, 0);

    const old = new Date(Date.now() - 5 * 60_000);
    await fs.utimes(file, old, old);
    const stale = await runCheck('worker-healthcheck.mjs', { WORKER_HEARTBEAT_FILE: file });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /s old/);

    const missing = await runCheck('worker-healthcheck.mjs', { WORKER_HEARTBEAT_FILE: path.join(dir, 'none') });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no heartbeat/);

    const unset = await runCheck('worker-healthcheck.mjs', {});
    assert.equal(unset.code, 1);
    assert.match(unset.stderr, /WORKER_HEARTBEAT_FILE/);
  });
});
