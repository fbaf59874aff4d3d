/**
 * What a benchmark child process measures and how it hands it to bench/run.ts: one line on stdout,
 * `BENCH_RESULT {json}`, per result. Everything else a child prints is passed through as its log.
 * bench/pytorch_bench.py prints the same shape (as a JSON array) so both sides land in one table.
 */

export const resultLinePrefix = 'BENCH_RESULT ';

export const benchTasks = [
  'inference',
  'features',
  'head-epoch-first',
  'head-epoch-cached',
  'head-step',
  'full-step',
] as const;
export type BenchTask = (typeof benchTasks)[number];

export interface BenchResult {
  task: BenchTask;
  /** tfjs-wasm, tfjs-cpu, onnxruntime or pytorch. */
  engine: string;
  imageSize: number;
  batch: number;
  /** Images per second of the median timed run (an epoch counts its images). */
  imagesPerSecond: number;
  medianMs: number;
  /** Wall time of every timed run, in the order they ran. */
  runsMs: number[];
  warmupRuns: number;
  /** CPU time (all threads) per image over the timed runs: other processes on a shared machine stretch wall time, not this. */
  cpuMsPerImage: number;
  /** Cores that other processes kept busy during the timed runs: above ~0.2 the figures are disturbed. */
  othersLoad?: number;
  /** Largest resident set of the process that measured this (it measured nothing heavier before). */
  peakRssBytes: number;
  /** Versions of what ran it (tfjs, backend, onnxruntime, torch). */
  versions: Record<string, string>;
  /** Task-specific figures, e.g. the feature cache's build time. */
  details?: Record<string, number | string | boolean>;
}

export function emitResult(result: BenchResult): void {
  process.stdout.write(resultLinePrefix + JSON.stringify(result) + '\n');
}

export function parseResultLines(stdout: string): BenchResult[] {
  const results: BenchResult[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith(resultLinePrefix)) results.push(JSON.parse(line.slice(resultLinePrefix.length)) as BenchResult);
  }
  return results;
}
