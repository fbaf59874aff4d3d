import { readFileSync } from 'node:fs';

/**
 * How much CPU other processes took while we measured: the machine's busy time (from /proc/stat) minus our
 * own CPU time, in cores. On a shared 2-core machine this is what explains an odd number, and PyTorch's
 * OpenMP threads suffer far more from it than a single-threaded engine does.
 */

/** Cores other processes may keep busy before a measurement counts as disturbed. */
export const disturbedLoad = 0.25;

/** Linux's USER_HZ, the unit of /proc/stat, is 100 on every mainstream architecture. */
const ticksPerSecond = 100;

export interface CpuTimes {
  busySeconds: number;
}

/** Machine-wide busy CPU seconds so far, or undefined where /proc/stat does not exist. */
export function readCpuTimes(): CpuTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, ...fields] = line.trim().split(/\s+/);
    const ticks = fields.map(Number);
    // user nice system idle iowait irq softirq steal; guest time is already counted in user.
    const busy = ticks.slice(0, 8).reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!;
    return { busySeconds: busy / ticksPerSecond };
  } catch {
    return undefined;
  }
}

/** Average number of cores other processes kept busy between two readings. */
export function othersLoad(
  before: CpuTimes | undefined,
  after: CpuTimes | undefined,
  ownCpuSeconds: number,
  wallSeconds: number,
): number | undefined {
  if (!before || !after || wallSeconds <= 0) return undefined;
  const others = (after.busySeconds - before.busySeconds - ownCpuSeconds) / wallSeconds;
  return Math.max(0, Math.round(others * 100) / 100);
}

/**
 * Waits until other processes use less than `threshold` cores over a one-second sample, or until
 * `maxSeconds` have passed. Returns the last sampled load (undefined off Linux).
 */
export async function waitForQuiet(threshold: number, maxSeconds: number): Promise<number | undefined> {
  const started = performance.now();
  for (;;) {
    const before = readCpuTimes();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const load = othersLoad(before, readCpuTimes(), 0, 1);
    if (load === undefined || load < threshold || (performance.now() - started) / 1000 >= maxSeconds) return load;
  }
}
