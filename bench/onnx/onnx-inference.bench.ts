/**
 * EfficientNet-B0 inference throughput: onnxruntime-node on the ONNX export vs tfjs on the wasm backend,
 * same model, same random weights, same NHWC pixels.
 *
 *   npx tsx bench/onnx/onnx-inference.bench.ts [--sizes 224,96] [--batch 8] [--runs 5] [--threads N]
 *       [--classes 1000] [--out bench/onnx/onnx-inference.results.json]
 *
 * Prints images/second (median over the timed runs, after one warm-up run) and writes the same as JSON.
 * The machine may be shared: the median resists preemption better than the mean, and CPU seconds per
 * image (all threads) are reported next to wall time.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { selectBackend } from '../../src/compute/backend.js';
import { tf, type Tensor } from '../../src/compute/tf.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { createOnnxSession, runOnnx } from '../../src/onnx/onnx-engine.js';
import { exportToOnnx } from '../../src/onnx/onnx-exporter.js';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '224,96' },
    batch: { type: 'string', default: '8' },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    classes: { type: 'string', default: '1000' },
    out: { type: 'string', default: 'bench/onnx/onnx-inference.results.json' },
  },
});
const sizes = opts.sizes.split(',').map(Number);
const batch = Number(opts.batch);
const runs = Number(opts.runs);
const threads = Number(opts.threads);

interface Timing {
  engine: string;
  imagesPerSecond: number;
  /** Wall ms of each timed run. */
  runsMs: number[];
  cpuMsPerImage: number;
}

/** One warm-up call, then `runs` timed ones; the median run gives img/s. */
async function time(engine: string, run: () => Promise<unknown>): Promise<Timing> {
  await run();
  const runsMs: number[] = [];
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    runsMs.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const median = [...runsMs].sort((a, b) => a - b)[Math.floor(runs / 2)]!;
  return {
    engine,
    imagesPerSecond: (batch * 1000) / median,
    runsMs: runsMs.map((ms) => Math.round(ms)),
    cpuMsPerImage: (cpu.user + cpu.system) / 1000 / (runs * batch),
  };
}

const backend = await selectBackend('wasm');
const results = [];
for (const size of sizes) {
  const model = buildEfficientNet({ architecture: 'b0', imageSize: size, numClasses: Number(opts.classes), seed: 1 });
  const x = tf.randomUniform([batch, size, size, 3], 0, 255, 'float32', 2);
  const pixels = x.dataSync() as Float32Array;

  let t0 = performance.now();
  const bytes = exportToOnnx(model);
  const exportMs = performance.now() - t0;
  t0 = performance.now();
  const session = await createOnnxSession(bytes, { intraOpThreads: threads });
  const sessionMs = performance.now() - t0;

  const onnx = await time(`onnxruntime-node ${session.runtimeVersion} (${threads} intra-op threads)`, () =>
    runOnnx(session, pixels, batch, size),
  );
  const tfjs = await time(`tfjs ${tf.version.tfjs} ${backend.name}`, async () => {
    const y = model.predict(x) as Tensor;
    await y.data();
    y.dispose();
  });
  await session.release();
  x.dispose();
  model.dispose();

  const result = {
    model: 'efficientnet-b0',
    imageSize: size,
    batch,
    onnxBytes: bytes.byteLength,
    exportMs: Math.round(exportMs),
    sessionCreateMs: Math.round(sessionMs),
    engines: [onnx, tfjs],
    speedup: onnx.imagesPerSecond / tfjs.imagesPerSecond,
  };
  results.push(result);
  console.log(
    `B0 ${size}px batch ${batch}: ONNX ${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB, export ${result.exportMs} ms, ` +
      `session ${result.sessionCreateMs} ms`,
  );
  for (const e of result.engines) {
    console.log(
      `  ${e.engine.padEnd(48)} ${e.imagesPerSecond.toFixed(1).padStart(7)} img/s  ` +
        `(${e.cpuMsPerImage.toFixed(1)} CPU ms/img; runs ${e.runsMs.join(' ')} ms)`,
    );
  }
  console.log(`  speedup ${result.speedup.toFixed(1)}x`);
}

const report = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  loadAverage: os.loadavg(),
  runs,
  results,
};
await writeFile(opts.out, JSON.stringify(report, null, 2) + '\n');
console.log(`written ${opts.out}`);
