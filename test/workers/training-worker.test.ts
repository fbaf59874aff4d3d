import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import { commandOf, descendantsOf, isAlive } from '../helpers/process-tree.js';
import { testRedis } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const root = path.resolve(import.meta.dirname, '../..');

test('start:worker connects to REDIS_URL, and SIGTERM closes it cleanly', async (t) => {
  const redis = await testRedis();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: redis.url,
    DATA_DIR: await tempDir(t),
    QUEUE_PREFIX: `test-${process.pid}`,
    LOG_LEVEL: 'info',
  };
  delete env.NODE_TEST_CONTEXT;
  const worker = spawn('npm', ['run', 'start:worker'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (worker.exitCode === null) worker.kill('SIGKILL');
  });
  let output = '';
  worker.stderr.on('data', (chunk) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker never became ready: ${output}`)), 60_000);
    worker.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('training worker ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const tree = descendantsOf(worker.pid!);
  worker.kill('SIGTERM');
  const [code] = (await once(worker, 'exit')) as [number | null];
  assert.equal(code, 0, output);
  assert.match(output, /"signal":"SIGTERM".*closing/);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.deepEqual(
    tree.filter(isAlive).map((pid) => `${pid} ${commandOf(pid)}`),
    [],
  );
});
