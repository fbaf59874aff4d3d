import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import { freePort } from '../src/services/local-redis.js';
import { commandOf, descendantsOf, isAlive } from './helpers/process-tree.js';
import { tempDir } from './helpers/temp-dir.js';

const root = path.resolve(import.meta.dirname, '..');

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('npm start serves /ready on wasm with a private Redis, and SIGTERM leaves no process behind', async (t) => {
  const dataDir = await tempDir(t);
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' };
  for (const key of ['REDIS_URL', 'TF_BACKEND', 'QUEUE_PREFIX', 'NODE_TEST_CONTEXT']) delete env[key];
  const npm = spawn('npm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  npm.stdout.on('data', (chunk) => (output += chunk));
  npm.stderr.on('data', (chunk) => (output += chunk));
  const exited = once(npm, 'exit');
  t.after(() => {
    if (npm.exitCode === null) npm.kill('SIGKILL');
  });

  const ready = await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      return res.status === 200 ? ((await res.json()) as { backend: { name: string } }) : undefined;
    },
    60_000,
    `/ready (output so far: ${output.slice(-2000)})`,
  );
  assert.equal(ready.backend.name, 'wasm');
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);

  const tree = descendantsOf(npm.pid!);
  const commands = tree.map(commandOf);
  assert.ok(
    commands.some((c) => c.startsWith('redis-server')),
    `a private redis-server runs: ${commands.join(' | ')}`,
  );

  npm.kill('SIGTERM');
  const [code, signal] = (await Promise.race([
    exited,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`npm start did not exit: ${output}`)), 30_000)),
  ])) as [number | null, string | null];
  assert.ok(code === 0 || signal === 'SIGTERM' || code === 143, `exit ${code} ${signal}: ${output.slice(-2000)}`);
  await waitFor(
    async () => (tree.every((pid) => !isAlive(pid)) ? true : undefined),
    15_000,
    'descendants to exit',
  ).catch(() => undefined);
  const orphans = tree.filter(isAlive).map((pid) => `${pid} ${commandOf(pid)}`);
  assert.deepEqual(orphans, [], 'no process of npm start outlives it');
});
