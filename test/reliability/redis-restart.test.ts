import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import { freePort, startLocalRedis, type LocalRedis } from '../../src/services/local-redis.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startWorkerProcess } from '../helpers/worker-process.js';
import {
  createJob,
  expectedKeys,
  getJob,
  historyKeys,
  isTerminal,
  startApi,
  tinyJob,
  uploadShapes,
  waitForJob,
} from './reliability-fixtures.js';

/** A persistent Redis that acknowledges a write only once it is in the AOF on disk. */
async function startDurableRedis(dir: string, port: number): Promise<LocalRedis> {
  const redis = await startLocalRedis(dir, { persist: true, port });
  const admin = new Redis(redis.url, { lazyConnect: true });
  try {
    await admin.connect();
    await admin.config('SET', 'appendfsync', 'always');
  } finally {
    admin.disconnect();
  }
  return redis;
}

async function readyStatus(base: string): Promise<number> {
  return (await fetch(`${base}/ready`)).status;
}

async function waitForReady(base: string, want: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while ((await readyStatus(base)) !== want) {
    if (performance.now() - started > timeoutMs) assert.fail(`/ready never answered ${want}`);
    await sleep(100);
  }
  return performance.now() - started;
}

test('Redis restarts (AOF): queued and running jobs survive, api and worker reconnect, jobs complete', async (t) => {
  const redisDir = path.join(await tempDir(t, 'effnet-aof-'), 'redis');
  const port = await freePort();
  let redis = await startDurableRedis(redisDir, port);
  const config = loadConfig({
    DATA_DIR: await tempDir(t, 'effnet-data-'),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `test-${randomUUID()}`,
    TF_BACKEND: process.env.TEST_TF_BACKEND ?? 'auto',
    LOG_LEVEL: 'silent',
  });
  const base = await startApi(t, config);
  const worker = await startWorkerProcess(t, config);
  // Registered last so it runs after the api and the worker closed (after hooks run in order).
  t.after(() => redis.stop());

  const datasetId = await uploadShapes(t, base);
  const running = await createJob(base, tinyJob(datasetId, 1, 6));
  const queued = await createJob(base, tinyJob(datasetId, 1, 1));
  await waitForJob(base, running, (job) => job.history.length >= 2, {
    timeoutMs: 60_000,
    what: 'two finished epochs',
    context: worker.output,
  });
  assert.equal((await getJob(base, queued)).status, 'queued', 'one worker, concurrency 1: the second job waits');

  await redis.stop();
  const notReadyMs = await waitForReady(base, 503, 10_000);
  t.diagnostic(`/ready answered 503 ${notReadyMs.toFixed(0)} ms after Redis stopped`);
  // Long enough for the worker's and the api's connections to fail and start retrying.
  await sleep(1500);
  redis = await startDurableRedis(redisDir, port);
  const readyMs = await waitForReady(base, 200, 15_000);
  t.diagnostic(`/ready answered 200 ${readyMs.toFixed(0)} ms after Redis restarted`);

  // Both jobs came back from the AOF.
  const afterRestart = await Promise.all([getJob(base, running), getJob(base, queued)]);
  assert.ok(afterRestart[0].history.length >= 2, 'the running job kept its progress');
  assert.ok(
    ['queued', 'running'].includes(afterRestart[1].status),
    `the queued job is still there: ${afterRestart[1].status}`,
  );

  const options = { timeoutMs: 90_000, what: 'the end', context: worker.output };
  const [first, second] = await Promise.all([
    waitForJob(base, running, isTerminal, options),
    waitForJob(base, queued, isTerminal, options),
  ]);
  assert.equal(first.status, 'completed', `${first.error}\n${worker.output().slice(-3000)}`);
  assert.equal(second.status, 'completed', `${second.error}\n${worker.output().slice(-3000)}`);
  assert.deepEqual(historyKeys(first), expectedKeys(1, 6));
  assert.deepEqual(historyKeys(second), expectedKeys(1, 1));
  t.diagnostic(`attempts: running job ${first.attempt}, queued job ${second.attempt}`);
  assert.equal(worker.process.exitCode, null, 'the worker rode out the outage');
});
