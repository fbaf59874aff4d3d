import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { testConfig } from '../helpers/build-app.js';
import { isAlive, descendantsOf } from '../helpers/process-tree.js';
import { startWorkerProcess } from '../helpers/worker-process.js';
import {
  createJob,
  expectedKeys,
  getJob,
  historyKeys,
  isTerminal,
  resumeRecords,
  startApi,
  tinyJob,
  trainedEpochs,
  uploadShapes,
  waitForJob,
} from './reliability-fixtures.js';

const HEAD = 1;
const FINETUNE = 8;

test('SIGTERM: the worker checkpoints at the next batch and exits 0; another worker finishes the job', async (t) => {
  const config = await testConfig(t);
  const base = await startApi(t, config);
  const first = await startWorkerProcess(t, config);
  const datasetId = await uploadShapes(t, base);
  const jobId = await createJob(base, tinyJob(datasetId, HEAD, FINETUNE));

  const before = await waitForJob(
    base,
    jobId,
    (job) => job.history.some((h) => h.phase === 'finetune') || isTerminal(job),
    { timeoutMs: 60_000, what: 'a finished finetune epoch', context: first.output },
  );
  assert.equal(before.status, 'running');

  const tree = descendantsOf(first.process.pid!);
  const started = performance.now();
  first.process.kill('SIGTERM');
  const [code, signal] = (await once(first.process, 'exit')) as [number | null, NodeJS.Signals | null];
  const exitMs = performance.now() - started;
  t.diagnostic(`worker exited ${exitMs.toFixed(0)} ms after SIGTERM`);
  assert.equal(signal, null, first.output().slice(-3000));
  assert.equal(code, 0, first.output().slice(-3000));
  // A batch is well under a second here; the 60 s grace period would mean close() waited for the whole job.
  assert.ok(exitMs < 10_000, `exited after ${exitMs} ms`);
  assert.deepEqual(tree.filter(isAlive), [], 'the sandboxed processor ended with the worker');
  assert.match(first.output(), /interrupted at finetune epoch \d+; resumes from its checkpoint/);

  // Back in the queue (at the front of the wait list, without spending an attempt), not failed.
  const requeued = await getJob(base, jobId);
  assert.equal(requeued.status, 'queued', JSON.stringify(requeued));
  assert.equal(requeued.error, null);

  const second = await startWorkerProcess(t, config);
  const final = await waitForJob(base, jobId, isTerminal, {
    timeoutMs: 90_000,
    what: 'the end',
    context: second.output,
  });
  assert.equal(final.status, 'completed', `${final.error}\n${second.output().slice(-3000)}`);
  assert.equal(final.attempt, 2);
  assert.deepEqual(historyKeys(final), expectedKeys(HEAD, FINETUNE));
  for (const entry of before.history) {
    assert.deepEqual(
      final.history.find((h) => h.phase === entry.phase && h.epoch === entry.epoch),
      entry,
      `${entry.phase}:${entry.epoch} was not trained again`,
    );
  }
  const [resume] = resumeRecords(second.output());
  assert.ok(resume, 'the second worker resumed from the checkpoint written at the interrupt');
  assert.equal(resume.phase, 'finetune');
  // Where the interrupt landed: mid-epoch (a partial checkpoint, resumed at its batch) or between epochs.
  t.diagnostic(`resumed at finetune epoch ${resume.epochsDone + 1}, batch ${resume.batch ?? 0}`);
  assert.deepEqual(trainedEpochs(second.output()), expectedKeys(HEAD, FINETUNE).slice(HEAD + resume.epochsDone));
});
