import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Config } from '../../src/config.js';

const root = path.resolve(import.meta.dirname, '../..');

export interface WorkerProcess {
  process: ChildProcess;
  output: () => string;
}

/** A real `start:worker` process on the same Redis, queue prefix and DATA_DIR as `config`. */
export function startWorkerProcess(
  t: Pick<TestContext, 'after'>,
  config: Config,
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  return startWorkerEntry(t, config, env, 'training');
}

/** A real `start:inference-worker` process (batch jobs) on the same Redis, queue prefix and DATA_DIR. */
export function startInferenceWorkerProcess(
  t: Pick<TestContext, 'after'>,
  config: Config,
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  return startWorkerEntry(t, config, env, 'inference');
}

async function startWorkerEntry(
  t: Pick<TestContext, 'after'>,
  config: Config,
  env: Record<string, string>,
  kind: 'training' | 'inference',
): Promise<WorkerProcess> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: config.redisUrl,
    QUEUE_PREFIX: config.queuePrefix,
    DATA_DIR: config.dataDir,
    WEIGHTS_DIR: config.weightsDir,
    TF_BACKEND: config.tfBackend,
    LOG_LEVEL: 'info',
    ...env,
  };
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--import', 'tsx', `workers/${kind}-worker.ts`], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  });
  const deadline = Date.now() + 60_000;
  while (!output.includes(`${kind} worker ready`)) {
    if (child.exitCode !== null) throw new Error(`${kind} worker exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`${kind} worker never became ready: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { process: child, output: () => output };
}
