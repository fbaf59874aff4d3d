import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Config } from '../../src/config.js';

const root = path.resolve(import.meta.dirname, '../..');

/** A real `start:inference-worker` process on the same Redis, queue prefix and DATA_DIR as `config`. */
export async function startInferenceWorkerProcess(
  t: Pick<TestContext, 'after'>,
  config: Config,
  env: Record<string, string> = {},
): Promise<{ process: ChildProcess; output: () => string }> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: config.redisUrl,
    QUEUE_PREFIX: config.queuePrefix,
    DATA_DIR: config.dataDir,
    TF_BACKEND: config.tfBackend,
    LOG_LEVEL: 'info',
    ...env,
  };
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/inference-worker.ts'], {
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
  while (!output.includes('inference worker ready')) {
    if (child.exitCode !== null) throw new Error(`inference worker exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`inference worker never became ready: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { process: child, output: () => output };
}
