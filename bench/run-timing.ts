import { othersLoad, readCpuTimes } from './machine-load.js';

/**
 * Warm-up runs, then timed runs; the median stands for the lot. The machine may be shared: the median
 * resists a preempted run better than the mean, and CPU time is recorded next to wall time.
 */

export interface RunTiming {
  warmupRuns: number;
  runsMs: number[];
  medianMs: number;
  /** CPU time of this process (all threads) over the timed runs. */
  cpuMs: number;
  /** Cores other processes kept busy during the timed runs (undefined off Linux). */
  othersLoad?: number;
}

export class InvalidRunCountError extends Error {
  constructor(name: string, value: number) {
    super(`${name} must be a non-negative integer (timed runs: at least 1), got ${value}`);
    this.name = 'InvalidRunCountError';
  }
}

export async function timeRuns(
  run: (index: number) => unknown,
  options: { warmup: number; runs: number },
): Promise<RunTiming> {
  const { warmup, runs } = options;
  if (!Number.isInteger(warmup) || warmup < 0) throw new InvalidRunCountError('warmup', warmup);
  if (!Number.isInteger(runs) || runs < 1) throw new InvalidRunCountError('runs', runs);
  for (let i = 0; i < warmup; i++) await run(i);
  const runsMs: number[] = [];
  const machineBefore = readCpuTimes();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run(warmup + i);
    runsMs.push(performance.now() - t0);
  }
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    warmupRuns: warmup,
    runsMs,
    medianMs: median(runsMs),
    cpuMs,
    othersLoad: othersLoad(machineBefore, readCpuTimes(), cpuMs / 1000, wallMs / 1000),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Peak resident set of this process so far (Linux reports maxRSS in KiB). */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** The figures of a BenchResult that come from a RunTiming. */
export function timingFields(timing: RunTiming, imagesPerRun: number) {
  return {
    imagesPerSecond: (imagesPerRun * 1000) / timing.medianMs,
    medianMs: round(timing.medianMs),
    runsMs: timing.runsMs.map(round),
    warmupRuns: timing.warmupRuns,
    cpuMsPerImage: round(timing.cpuMs / (timing.runsMs.length * imagesPerRun)),
    peakRssBytes: peakRssBytes(),
    ...(timing.othersLoad !== undefined ? { othersLoad: timing.othersLoad } : {}),
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
