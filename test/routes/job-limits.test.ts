import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, Worker } from 'bullmq';
import { buildApp } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { redisOptions } from '../../src/services/redis-connection.js';
import { TRAINING_QUEUE } from '../../src/services/training-queue.js';
import { zipDirectory } from '../data/archive-fixtures.js';
import { testConfig } from '../helpers/build-app.js';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The limits of POST /v1/datasets and /v1/jobs that are not rate limits: DATASET_MAX_CLASSES,
 * JOB_MAX_IMAGE_SIZE, JOB_MAX_EPOCHS and JOBS_MAX_ACTIVE_PER_KEY, over real HTTP with a real Redis and, for the
 * slots that jobs free when they end, a real BullMQ worker.
 */

const cleanups: Array<() => unknown> = [];
const ctx = { after: (fn: () => unknown) => void cleanups.push(fn) };
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let config: Config;
let base: string;
let work: string;
let datasetId: string;

const keyA = 'key-a-0123456789';
const keyB = 'key-b-0123456789';

async function upload(dir: string, key = keyA): Promise<Response> {
  const zip = `${dir}.zip`;
  await zipDirectory(dir, zip);
  const form = new FormData();
  form.append('file', new Blob([await fs.readFile(zip)]), path.basename(zip));
  return fetch(`${base}/v1/datasets`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
}

function postJob(body: Record<string, unknown>, key = keyA): Promise<Response> {
  return fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({
      datasetId,
      architecture: 'efficientnet-b0',
      weights: 'none',
      imageSize: 32,
      head: { epochs: 1 },
      ...body,
    }),
  });
}

async function problem(res: Response, status: number): Promise<{ detail: string } & Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  return JSON.parse(text) as { detail: string };
}

async function jobStatus(id: string): Promise<string> {
  const res = await fetch(`${base}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${keyA}` } });
  return ((await res.json()) as { status: string }).status;
}

describe('limits on datasets and jobs', () => {
  before(async () => {
    config = await testConfig(ctx, {
      API_KEYS: `${keyA},${keyB}`,
      DATASET_MAX_CLASSES: '2',
      JOB_MAX_IMAGE_SIZE: '64',
      JOB_MAX_EPOCHS: '5',
      JOBS_MAX_ACTIVE_PER_KEY: '2',
      RATE_LIMIT_JOBS: '1000',
    });
    const app = await buildApp({ config, logger: false });
    ctx.after(() => app.close());
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    work = await tempDir(ctx);
    await writeShapesDataset(path.join(work, 'two'), { classes: 2, perClass: 2, size: 16, seed: 3 });
    const res = await upload(path.join(work, 'two'));
    assert.equal(res.status, 201, await res.clone().text());
    datasetId = ((await res.json()) as { id: string }).id;
  });

  test('DATASET_MAX_CLASSES: a dataset with more classes is refused before its images are decoded', async () => {
    await writeShapesDataset(path.join(work, 'three'), { classes: 3, perClass: 1, size: 16, seed: 4 });
    const body = await problem(await upload(path.join(work, 'three')), 422);
    assert.match(body.detail, /too many classes: 3 class folders, at most 2 allowed \(DATASET_MAX_CLASSES\)/);
    assert.deepEqual(await fs.readdir(path.join(config.dataDir, 'datasets')), [datasetId]);
  });

  test('JOB_MAX_IMAGE_SIZE: a larger imageSize, given or defaulted, is a 400 naming the limit', async () => {
    const given = await problem(await postJob({ imageSize: 96 }), 400);
    assert.match(given.detail, /imageSize: 96 is larger than this service allows \(JOB_MAX_IMAGE_SIZE=64\)/);
    const defaulted = await problem(await postJob({ imageSize: undefined }), 400);
    assert.match(defaulted.detail, /imageSize: 224 \(the default of efficientnet-b0\) is larger/);
    keyAJobs.push(await accepted(await postJob({ imageSize: 64 })));
  });

  test('JOB_MAX_EPOCHS: head + finetune epochs over the limit is a 400 naming the limit', async () => {
    const body = await problem(await postJob({ head: { epochs: 3 }, finetune: { epochs: 3 } }), 400);
    assert.match(
      body.detail,
      /head\.epochs \+ finetune\.epochs: 6 is more than this service allows \(JOB_MAX_EPOCHS=5\)/,
    );
    keyAJobs.push(await accepted(await postJob({ head: { epochs: 2 }, finetune: { epochs: 3 } })));
  });

  test('JOBS_MAX_ACTIVE_PER_KEY: racing POSTs cannot share a slot; ended jobs give theirs back', async (t) => {
    // Key A holds both of its slots with the jobs of the tests above.
    assert.equal(keyAJobs.length, 2);
    const refused = await problem(await postJob({}), 429);
    assert.match(refused.detail, /already has 2 queued or running jobs.*JOBS_MAX_ACTIVE_PER_KEY=2/);
    assert.equal(refused.limit, 2);

    // Another key has its own count.
    await accepted(await postJob({}, keyB));

    // Cancelling a queued job frees its slot at once; six racing POSTs then take exactly that one slot.
    const cancel = await fetch(`${base}/v1/jobs/${keyAJobs[0]}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keyA}` },
    });
    assert.equal(cancel.status, 202, await cancel.text());
    const racing = await Promise.all(Array.from({ length: 6 }, () => postJob({})));
    assert.deepEqual(racing.map((res) => res.status).sort(), [202, 429, 429, 429, 429, 429]);
    keyAJobs.push(await accepted(racing.find((res) => res.status === 202)!));

    // A real worker ends the queued jobs: one fails, the others complete. Every slot comes back.
    const ended = keyAJobs.slice(1);
    const worker = new Worker(
      TRAINING_QUEUE,
      async (job) => {
        if (job.id === ended[0]) throw new UnrecoverableError('dataset is broken');
        return { modelId: 'mdl-none' };
      },
      // A stall check holds off every worker's next one for its stalledInterval: keep it short for the next test.
      { connection: redisOptions(config.redisUrl!, 'worker'), prefix: config.queuePrefix, stalledInterval: 300 },
    );
    worker.on('error', () => {});
    t.after(() => worker.close());
    for (const id of ended) {
      for (let i = 0; i < 400 && !['completed', 'failed'].includes(await jobStatus(id)); i++) await sleep(25);
    }
    assert.deepEqual((await Promise.all(ended.map(jobStatus))).sort(), ['completed', 'failed']);
    await worker.close();
    const again = await Promise.all([postJob({}), postJob({}), postJob({})]);
    assert.deepEqual(again.map((res) => res.status).sort(), [202, 202, 429]);
  });

  test('JOBS_MAX_ACTIVE_PER_KEY: jobs whose worker died give their slots back once BullMQ fails them', async (t) => {
    // Key B's earlier job was completed by the worker above; two new ones fill both its slots.
    const stuck = [await accepted(await postJob({}, keyB)), await accepted(await postJob({}, keyB))];
    await problem(await postJob({}, keyB), 429);
    const connection = redisOptions(config.redisUrl!, 'worker');
    const hang = () => new Promise<never>(() => {});
    // Short stall checks for both: a check by one worker holds off the others for its stalledInterval.
    const options = { connection, prefix: config.queuePrefix, stalledInterval: 300 };
    const dying = new Worker(TRAINING_QUEUE, hang, { ...options, concurrency: 10, lockDuration: 1000 });
    dying.on('error', () => {});
    t.after(() => dying.close(true));
    const statuses = () => Promise.all(stuck.map(jobStatus));
    for (let i = 0; i < 400 && (await statuses()).some((s) => s !== 'running'); i++) await sleep(25);
    assert.deepEqual(await statuses(), ['running', 'running']);
    // Closing without waiting stops renewing the jobs' locks, as a crash would; the jobs still count meanwhile.
    await dying.close(true);
    await problem(await postJob({}, keyB), 429);
    // A surviving worker finds the expired locks and, with no stalls allowed, fails the jobs.
    const survivor = new Worker(TRAINING_QUEUE, hang, { ...options, maxStalledCount: 0 });
    survivor.on('error', () => {});
    t.after(() => survivor.close(true));
    for (let i = 0; i < 400 && (await statuses()).some((s) => s !== 'failed'); i++) await sleep(25);
    assert.deepEqual(await statuses(), ['failed', 'failed']);
    await survivor.close(true);
    const again = await Promise.all([postJob({}, keyB), postJob({}, keyB), postJob({}, keyB)]);
    assert.deepEqual(again.map((res) => res.status).sort(), [202, 202, 429]);
  });
});

const keyAJobs: string[] = [];

async function accepted(res: Response): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, 202, text);
  return (JSON.parse(text) as { id: string }).id;
}
