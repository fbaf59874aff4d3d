import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { registrationFileName } from '../../src/services/model-registry.js';
import { redisOptions } from '../../src/services/redis-connection.js';
import { TRAINING_QUEUE } from '../../src/services/training-queue.js';
import { testConfig } from '../helpers/build-app.js';
import { writeModelFixture } from '../helpers/model-fixture.js';
import { useTestBackend } from '../helpers/tf-backend.js';
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

const HEAD = 1;
const FINETUNE = 8;
const INTERRUPTIONS = 3;

test('SIGTERM three times during one job: it completes without the interruptions spending its 3 attempts', async (t) => {
  const config = await testConfig(t);
  const base = await startApi(t, config);
  const queue = new Queue(TRAINING_QUEUE, {
    connection: redisOptions(config.redisUrl!, 'producer'),
    prefix: config.queuePrefix,
  });
  t.after(() => queue.close());
  const datasetId = await uploadShapes(t, base);
  const jobId = await createJob(base, tinyJob(datasetId, HEAD, FINETUNE));

  for (let round = 1; round <= INTERRUPTIONS; round++) {
    const worker = await startWorkerProcess(t, config);
    const epochsBefore = (await getJob(base, jobId)).history.length;
    // An epoch trained in this attempt: training is under way, past the processor's start-up.
    const before = await waitForJob(base, jobId, (job) => job.history.length > epochsBefore || isTerminal(job), {
      timeoutMs: 60_000,
      what: `an epoch in attempt ${round}`,
      context: worker.output,
    });
    assert.equal(before.status, 'running', `round ${round}: the job ended before its interruption`);

    worker.process.kill('SIGTERM');
    const [code] = (await once(worker.process, 'exit')) as [number | null];
    assert.equal(code, 0, worker.output().slice(-3000));
    assert.match(worker.output(), /interrupted at (head|finetune) epoch \d+; resumes from its checkpoint/);

    const bull = (await queue.getJob(jobId))!;
    assert.equal(await bull.getState(), 'waiting', `round ${round}: back in the queue at once, not delayed or failed`);
    assert.equal(bull.attemptsMade, 0, `round ${round}: the interruption spent an attempt`);
    assert.equal(bull.attemptsStarted, round);
    const requeued = await getJob(base, jobId);
    assert.equal(requeued.status, 'queued');
    assert.equal(requeued.error, null);
    t.diagnostic(`round ${round}: interrupted after ${requeued.history.length} epochs`);
  }

  const last = await startWorkerProcess(t, config);
  const final = await waitForJob(base, jobId, isTerminal, { timeoutMs: 90_000, what: 'the end', context: last.output });
  assert.equal(final.status, 'completed', `${final.error}\n${last.output().slice(-3000)}`);
  assert.deepEqual(historyKeys(final), expectedKeys(HEAD, FINETUNE));
  const bull = (await queue.getJob(jobId))!;
  // Only the attempt that finished counts; the API's `attempt` counts every start.
  assert.equal(bull.attemptsMade, 1);
  assert.equal(final.attempt, INTERRUPTIONS + 1);
});

test('a job run again after its model was registered answers with that model instead of training another', async (t) => {
  await useTestBackend();
  const config = await testConfig(t);
  const base = await startApi(t, config);
  const datasetId = await uploadShapes(t, base);
  const jobId = await createJob(base, tinyJob(datasetId, 1, 1));
  // What an attempt that died between registering its model and BullMQ recording the completion leaves.
  const modelId = await writeModelFixture(config.dataDir, { id: 'mdl-earlier-attempt' });
  const registration = path.join(config.dataDir, 'models', modelId, registrationFileName);
  const written = JSON.parse(await fs.readFile(registration, 'utf8')) as Record<string, string>;
  await fs.writeFile(registration, JSON.stringify({ ...written, jobId, datasetId }));

  const worker = await startWorkerProcess(t, config);
  const final = await waitForJob(base, jobId, isTerminal, {
    timeoutMs: 60_000,
    what: 'the end',
    context: worker.output,
  });
  assert.equal(final.status, 'completed', `${final.error}\n${worker.output().slice(-3000)}`);
  assert.equal(final.modelId, modelId);
  assert.doesNotMatch(worker.output(), /training started/);
  const listed = (await (await fetch(`${base}/v1/models`)).json()) as { models: Array<{ id: string; jobId: string }> };
  assert.deepEqual(
    listed.models.filter((m) => m.jobId === jobId).map((m) => m.id),
    [modelId],
    'one model for the job',
  );
});

test('SIGTERM while the job is still starting: the interrupt is not lost, the job goes back at once', async (t) => {
  const config = await testConfig(t);
  const base = await startApi(t, config);
  const queue = new Queue(TRAINING_QUEUE, {
    connection: redisOptions(config.redisUrl!, 'producer'),
    prefix: config.queuePrefix,
  });
  t.after(() => queue.close());
  const datasetId = await uploadShapes(t, base);
  const worker = await startWorkerProcess(t, config);
  const jobId = await createJob(base, tinyJob(datasetId, HEAD, FINETUNE));
  // The moment BullMQ hands the job to the worker, before its sandboxed processor has loaded.
  const deadline = Date.now() + 30_000;
  while ((await queue.getJobState(jobId)) !== 'active') {
    assert.ok(Date.now() < deadline, `the job never became active\n${worker.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  worker.process.kill('SIGTERM');
  const [code] = (await once(worker.process, 'exit')) as [number | null];
  assert.equal(code, 0, worker.output().slice(-3000));
  const bull = (await queue.getJob(jobId))!;
  // Before the fix the starting processor deleted the flag and trained the whole job during the grace period.
  assert.equal(await bull.getState(), 'waiting', worker.output().slice(-3000));
  assert.equal(bull.attemptsMade, 0);
  assert.ok((await getJob(base, jobId)).history.length < HEAD + FINETUNE, 'stopped early, not trained to the end');
});
