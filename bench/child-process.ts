import { spawn } from 'node:child_process';
import { parseResultLines, type BenchResult } from './bench-result.js';

/**
 * Runs one benchmark script in its own process and collects what it printed. A child that fails or
 * overruns its time does not stop the run: its failure is recorded and the table says so.
 */

export interface ChildOutcome {
  exitCode: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  results: BenchResult[];
  seconds: number;
}

export function runChild(command: string, args: readonly string[], options: { cwd: string; timeoutMs: number }) {
  return new Promise<ChildOutcome>((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    const finish = (exitCode: number | null, extraError?: string) => {
      clearTimeout(timer);
      resolve({
        exitCode,
        timedOut,
        stdout,
        stderr: extraError ? `${stderr}\n${extraError}` : stderr,
        results: parseResultLines(stdout),
        seconds: (performance.now() - started) / 1000,
      });
    };
    child.on('error', (error) => finish(null, error.message));
    child.on('close', (code) => finish(code));
  });
}

/** The error message in a child's stderr (Node prints the source line of a throw first: skip such noise). */
export function failureReason(outcome: ChildOutcome): string {
  if (outcome.timedOut) return `timed out after ${outcome.seconds.toFixed(0)} s`;
  const lines = outcome.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && l.length < 1000 && !l.startsWith('at ') && !/^[=^~ ]+$/.test(l) && !/^Node\.js v/.test(l));
  const errorLine =
    lines.find((l) => /^[A-Z]\w*(Error|Exception)\b/.test(l)) ?? lines.find((l) => /Error|Aborted|error:/.test(l));
  return (errorLine ?? lines.at(-1) ?? `exit code ${outcome.exitCode}`).slice(0, 300);
}
