import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { testConfig } from '../helpers/build-app.js';
import { startWorkerProcess } from '../helpers/worker-process.js';
import {
  createJob,
  expectedKeys,
  historyKeys,
  isTerminal,
  killTree,
  resumeRecords,
  startApi,
  tinyJob,
  trainedEpochs,
  uploadShapes,
  waitForJob,
} from './reliability-fixtures.js';

// A dead worker's lock expires after WORKER_LOCK_MS; the next stalled check (every WORKER_STALLED_INTERVAL_MS)
// requeues its job. The defaults (60 s / 30 s) are made for epochs of minutes, not for a test.
const fastStalls = { WORKER_LOCK_MS: '3000', WORKER_STALLED_INTERVAL_MS: '1000' };
const HEAD = 1;
const FINETUNE = 8;

test('a worker SIGKILLed mid-phase: another worker resumes the job from its last checkpoint', async (t) => {
  const config = await testConfig(t);
  const base = await startApi(t, config);
  const first = await startWorkerProcess(t, config, fastStalls);
  const datasetId = await uploadShapes(t, base);
  const jobId = await createJob(base, tinyJob(datasetId, HEAD, FINETUNE));

  const finetuneDone = (job: { history: Array<{ phase: string }> }) =>
    job.history.filter((h) => h.phase === 'finetune').length;
  const before = await waitForJob(base, jobId, (job) => finetuneDone(job) >= 2 || isTerminal(job), {
    timeoutMs: 60_000,
    what: 'two finished finetune epochs',
    context: first.output,
  });
  assert.equal(before.status, 'running', 'killed mid-phase, not after the end');

  // The worker and its sandboxed processor die together, as in a crash or an OOM kill of the container.
  const killed = await killTree(first.process.pid!);
  assert.ok(killed.length >= 2, `the worker had a sandbox child: ${killed.join(', ')}`);
  if (first.process.signalCode === null && first.process.exitCode === null) await once(first.process, 'exit');
  assert.equal(first.process.signalCode, 'SIGKILL');

  const killedAt = performance.now();
  const second = await startWorkerProcess(t, config, fastStalls);
  await waitForJob(base, jobId, (job) => job.attempt >= 2, {
    timeoutMs: 30_000,
    what: 'the stalled job to be started again',
    context: second.output,
  });
  t.diagnostic(`restarted on the new worker ${(performance.now() - killedAt).toFixed(0)} ms after the kill`);
  const final = await waitForJob(base, jobId, isTerminal, {
    timeoutMs: 90_000,
    what: 'the end',
    context: second.output,
  });
  assert.equal(final.status, 'completed', `${final.error}\n${second.output().slice(-3000)}`);
  assert.ok(final.modelId);
  assert.equal(final.attempt, 2, 'the stalled job was started a second time');

  // Each (phase, epoch) once, in order.
  assert.deepEqual(historyKeys(final), expectedKeys(HEAD, FINETUNE));
  // Epochs reported before the kill were not trained again: a redone epoch would replace its entry (the
  // reporter upserts by phase and epoch) with a different duration.
  for (const entry of before.history) {
    const kept = final.history.find((h) => h.phase === entry.phase && h.epoch === entry.epoch);
    assert.deepEqual(kept, entry, `${entry.phase}:${entry.epoch} kept its original record`);
  }
  // The second attempt restored the checkpoint and trained only what was left.
  const [resume, ...more] = resumeRecords(second.output());
  assert.ok(resume, `the second worker resumed from a checkpoint:\n${second.output().slice(-3000)}`);
  assert.equal(more.length, 0);
  assert.equal(resume.phase, 'finetune');
  assert.ok(resume.epochsDone >= finetuneDone(before), `resumed after finetune epoch ${resume.epochsDone}`);
  const retrained = trainedEpochs(second.output());
  assert.deepEqual(retrained, expectedKeys(HEAD, FINETUNE).slice(HEAD + resume.epochsDone));
});
