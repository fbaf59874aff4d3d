import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { maxWasmThreads, wantedWasmThreads } from '../../src/compute/wasm-threads.js';
import { build } from '../helpers/build-app.js';
import { assertClose } from './backend-comparison.js';

// The threaded wasm build runs in child processes, one per thread count: a process selects its backend
// once, and only a fresh one shows that nothing keeps it alive afterwards.

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'wasm-threads-child.ts');

interface ChildOutput {
  threads: number;
  threadsFallback?: string;
  values: Record<string, number[]>;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the child with TF_WASM_THREADS=threads; `onLine` sees each stdout line as it arrives. */
function runChild(threads: number, args: string[] = [], onLine?: (line: string, pid: number) => void): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
      env: { ...process.env, TF_WASM_THREADS: String(threads) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const killer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) onLine?.(line, proc.pid!);
    });
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function parse(exit: Exit): ChildOutput {
  assert.equal(exit.code, 0, `child failed (signal ${exit.signal}): ${exit.stderr.slice(-2000)}`);
  return JSON.parse(exit.stdout.split('\n')[0]!) as ChildOutput;
}

describe('threaded wasm backend', () => {
  test('TF_WASM_THREADS: 0 or unset means one per CPU up to 8; out of range is an error', () => {
    const perCpu = Math.min(os.availableParallelism(), maxWasmThreads);
    assert.equal(wantedWasmThreads(undefined), perCpu);
    assert.equal(wantedWasmThreads('0'), perCpu);
    assert.equal(wantedWasmThreads('3'), 3);
    assert.equal(wantedWasmThreads('1'), 1);
    for (const bad of ['9', '-1', '1.5', 'two']) assert.throws(() => wantedWasmThreads(bad), /TF_WASM_THREADS/);
  });

  test('runs XNNPACK on 2 threads, gives the single-threaded results, and exits by itself', async () => {
    const [single, threaded] = await Promise.all([runChild(1), runChild(2)]);
    const one = parse(single);
    const two = parse(threaded);
    assert.equal(one.threads, 1);
    assert.equal(two.threadsFallback, undefined);
    assert.equal(two.threads, 2);
    assert.deepEqual(Object.keys(two.values), Object.keys(one.values));
    for (const [name, expected] of Object.entries(one.values)) {
      assert.ok(
        expected.some((v) => v !== 0),
        `${name}: all zeros`,
      );
      assertClose(two.values[name]!, expected, `${name} on 2 threads`);
    }
  });

  test('a threaded process that drains its event loop on SIGTERM exits', async () => {
    const exit = await runChild(2, ['--wait-for-sigterm'], (line, pid) => {
      if (line === 'waiting') process.kill(pid, 'SIGTERM');
    });
    assert.equal(parse(exit).threads, 2);
    assert.ok(exit.stdout.includes('waiting'), 'the child never reached its idle loop');
    assert.equal(exit.signal, null, 'the child had to be killed: something kept it alive');
  });

  test('/ready reports the thread count', async (t) => {
    const before = process.env.TF_WASM_THREADS;
    process.env.TF_WASM_THREADS = '2';
    t.after(() => (before === undefined ? delete process.env.TF_WASM_THREADS : (process.env.TF_WASM_THREADS = before)));
    const app = await build(t, { TF_BACKEND: 'wasm' });
    const res = await app.inject('/ready');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().backend.name, 'wasm');
    assert.equal(res.json().backend.threads, 2);
  });
});
