import { tf } from '../src/compute/tf.js';

/**
 * Where a tfjs computation spends its time, kernel by kernel (tf.profile). The machine may be shared, so
 * single kernel timings catch GC pauses and preemption: the computation is profiled a few times and each
 * call of each kernel keeps its fastest time (as bench/kernels/efficientnet-train-step.bench.ts does).
 */

export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

/** Wrapper ops that tf.profile lists next to the kernels they run; counting both would count twice. */
const wrapperOp = /__op$/;

export async function profileKernels(run: () => unknown, repeats: number): Promise<KernelTime[]> {
  const fastest = new Map<string, number[]>();
  for (let p = 0; p < repeats; p++) {
    const profile = await tf.profile(async () => {
      await run();
    });
    const ordinal = new Map<string, number>();
    for (const k of profile.kernels) {
      if (wrapperOp.test(k.name)) continue;
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const i = ordinal.get(k.name) ?? 0;
      ordinal.set(k.name, i + 1);
      const times = fastest.get(k.name) ?? [];
      times[i] = Math.min(times[i] ?? Infinity, ms);
      fastest.set(k.name, times);
    }
  }
  return [...fastest]
    .map(([name, times]) => ({ name, ms: times.reduce((a, b) => a + b, 0), calls: times.length }))
    .sort((a, b) => b.ms - a.ms);
}

/** The top kernels as lines of text, with each one's share of the summed kernel time. */
export function formatKernelTimes(kernels: readonly KernelTime[], top: number, wallMs: number): string {
  const total = kernels.reduce((a, k) => a + k.ms, 0);
  return [
    `kernel time ${total.toFixed(0)} ms of ${wallMs.toFixed(0)} ms wall (the rest: dispatch, autodiff tape, GC)`,
    ['kernel', 'ms', 'share', 'calls'].join('\t'),
    ...kernels
      .slice(0, top)
      .map(({ name, ms, calls }) => [name, ms.toFixed(1), ((ms / total) * 100).toFixed(1) + '%', calls].join('\t')),
  ].join('\n');
}
