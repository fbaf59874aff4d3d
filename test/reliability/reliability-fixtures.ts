import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { zipDirectory } from '../data/archive-fixtures.js';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { descendantsOf, isAlive } from '../helpers/process-tree.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Shared by the fault tests: a listening api, a tiny dataset and job, polling, and killing process trees. */

export interface JobView {
  id: string;
  status: string;
  phase: string | null;
  attempt: number;
  history: Array<{ phase: string; epoch: number; loss: number; durationMs: number }>;
  modelId: string | null;
  error: string | null;
}

const terminal = new Set(['completed', 'failed', 'cancelled']);

/** The real api on a loopback port; closed when the test ends. Returns its base URL. */
export async function startApi(t: Pick<TestContext, 'after'>, config: Config): Promise<string> {
  const app = await buildApp({ config, logger: false });
  t.after(() => app.close());
  return app.listen({ port: 0, host: '127.0.0.1' });
}

/** Uploads 3 classes × `perClass` 32 px shapes as a zip through POST /v1/datasets; returns the dataset id. */
export async function uploadShapes(t: Pick<TestContext, 'after'>, base: string, perClass = 8): Promise<string> {
  const work = await tempDir(t, 'effnet-shapes-');
  await writeShapesDataset(path.join(work, 'shapes'), { classes: 3, perClass, size: 32, seed: 5 });
  await zipDirectory(path.join(work, 'shapes'), path.join(work, 'shapes.zip'));
  const form = new FormData();
  form.append('file', new Blob([await fs.readFile(path.join(work, 'shapes.zip'))]), 'shapes.zip');
  const res = await fetch(`${base}/v1/datasets`, { method: 'POST', body: form });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

/** A job of about a second per epoch on wasm: B0 from scratch at 32 px, batch 8, no augmentation. */
export function tinyJob(datasetId: string, headEpochs: number, finetuneEpochs: number) {
  return {
    datasetId,
    architecture: 'efficientnet-b0',
    weights: 'none',
    imageSize: 32,
    augmentation: false,
    seed: 11,
    head: { epochs: headEpochs, batchSize: 8 },
    // Early stopping off: every epoch runs, so the expected history is known.
    finetune: { epochs: finetuneEpochs, batchSize: 8, earlyStopping: false },
  };
}

export async function createJob(base: string, body: unknown): Promise<string> {
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 202, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

export async function getJob(base: string, id: string): Promise<JobView> {
  const res = await fetch(`${base}/v1/jobs/${id}`);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as JobView;
}

/**
 * Polls GET /v1/jobs/{id} until `until` holds. Fails on a timeout, or when the job ended without `until`
 * holding (so a crash shows its reason instead of a timeout). `context` is appended to failures (worker logs).
 */
export async function waitForJob(
  base: string,
  id: string,
  until: (job: JobView) => boolean,
  options: { timeoutMs: number; what: string; context?: () => string },
): Promise<JobView> {
  const deadline = Date.now() + options.timeoutMs;
  let job: JobView | undefined;
  for (;;) {
    // Fetch errors (the api briefly unable to answer) count as "not yet".
    job = await getJob(base, id).catch(() => job);
    if (job && until(job)) return job;
    if (job && terminal.has(job.status)) {
      assert.fail(`job ${id} ended (${job.status}: ${job.error}) before ${options.what}\n${tail(options.context)}`);
    }
    if (Date.now() > deadline) {
      assert.fail(`timed out waiting for ${options.what}; last: ${JSON.stringify(job)}\n${tail(options.context)}`);
    }
    await sleep(100);
  }
}

export const isTerminal = (job: JobView) => terminal.has(job.status);

/** `phase:epoch` keys of a history, in its order. */
export const historyKeys = (job: JobView) => job.history.map((h) => `${h.phase}:${h.epoch}`);

export function expectedKeys(headEpochs: number, finetuneEpochs: number): string[] {
  return [
    ...Array.from({ length: headEpochs }, (_, i) => `head:${i + 1}`),
    ...Array.from({ length: finetuneEpochs }, (_, i) => `finetune:${i + 1}`),
  ];
}

/** SIGKILLs `pid` and every descendant at once (no one gets to clean up), and waits until all are gone. */
export async function killTree(pid: number): Promise<number[]> {
  const pids = [pid, ...descendantsOf(pid)];
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + 10_000;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) assert.fail(`processes survived SIGKILL: ${pids.filter(isAlive).join(', ')}`);
    await sleep(50);
  }
  return pids;
}

/** The `resuming` record the trainer logs (through the sandboxed processor) in a worker's output. */
export function resumeRecords(output: string): Array<{ phase: string; epochsDone: number; batch?: number }> {
  return output
    .split('\n')
    .filter((line) => line.includes('"msg":"resuming"'))
    .map((line) => JSON.parse(line) as { phase: string; epochsDone: number; batch?: number });
}

/** `<phase>:<epoch>` of every epoch a worker's output says it trained. */
export function trainedEpochs(output: string): string[] {
  return [...output.matchAll(/"msg":"(head|finetune) epoch (\d+)\/\d+"/g)].map((m) => `${m[1]}:${m[2]}`);
}

function tail(context: (() => string) | undefined): string {
  return context ? context().slice(-4000) : '';
}
