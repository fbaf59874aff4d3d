/**
 * What the A/B benches share: variants timed round by round in one process (each round in a rotated order, so
 * no variant always runs right after the same one and a noisy machine disturbs all alike), and a table of
 * wall and CPU time (CPU is the steadier figure on a shared machine: waiting for a core stretches wall time
 * only) with speed-ups over the first variant and kernel calls per run.
 */
import { tf, type LayersModel } from '../../src/compute/tf.js';
import { FusedSwish } from '../../src/model/fused-swish.js';

export interface AbVariant {
  name: string;
  /** One timed unit of work: a training step, a batch of inference. */
  run: () => unknown;
}

/** Puts tfjs-layers' own swish back where buildEfficientNet put our fused one. */
export function unfuseSwish(model: LayersModel): void {
  const tfjsSwish = (tf.layers.activation({ activation: 'swish' }) as unknown as { activation: unknown }).activation;
  for (const layer of model.layers as unknown as { activation?: unknown }[]) {
    if (layer.activation instanceof FusedSwish) layer.activation = tfjsSwish;
  }
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;

/** Warms each variant up, counts its kernel calls, times `rounds` interleaved rounds and prints the table. */
export async function runInterleavedAb(title: string, variants: AbVariant[], rounds: number): Promise<void> {
  const measured: Array<AbVariant & { kernels: number; wall: number[]; cpu: number[] }> = [];
  for (const v of variants) {
    v.run(); // warm-up: optimizer state, XNNPACK's operators
    const profile = await tf.profile(() => void v.run());
    measured.push({ ...v, kernels: profile.kernels.filter((k) => !/__op$/.test(k.name)).length, wall: [], cpu: [] });
  }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < measured.length; i++) {
      const v = measured[(i + r) % measured.length]!;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      v.run();
      v.wall.push(performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      v.cpu.push((cpu.user + cpu.system) / 1000);
    }
  }
  const [baseWall, baseCpu] = [median(measured[0]!.wall), median(measured[0]!.cpu)];
  console.log(`${title}, ${rounds} rounds`);
  console.log(
    ['variant', 'wall median ms', 'wall min', 'speed-up', 'CPU median ms', 'CPU min', 'speed-up', 'kernels'].join('\t'),
  );
  for (const v of measured) {
    const [w, c] = [median(v.wall), median(v.cpu)];
    console.log(
      [
        v.name,
        w.toFixed(1),
        Math.min(...v.wall).toFixed(1),
        `${(baseWall / w).toFixed(3)}x`,
        c.toFixed(1),
        Math.min(...v.cpu).toFixed(1),
        `${(baseCpu / c).toFixed(3)}x`,
        v.kernels,
      ].join('\t'),
    );
  }
}
