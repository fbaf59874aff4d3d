import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalRedis, type LocalRedis } from '../../src/services/local-redis.js';

let shared: Promise<LocalRedis> | undefined;

/**
 * One throwaway redis-server per test file (each file runs in its own process). It lives as long as the
 * process: node:test's after() would bind it to whichever test asked first.
 */
export function testRedis(): Promise<LocalRedis> {
  shared ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'effnet-redis-'));
    const redis = await startLocalRedis(dir, { persist: false });
    // Let the file's process end when its tests do; 'exit' then takes the server down with it.
    redis.process.unref();
    for (const stream of [redis.process.stdout, redis.process.stderr])
      (stream as { unref?: () => void } | null)?.unref?.();
    process.on('exit', () => {
      redis.process.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return redis;
  })();
  return shared;
}
