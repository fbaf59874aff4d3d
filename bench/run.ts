/**
 * `npm run bench`: EfficientNet-B0 speed on every engine we have, side by side with PyTorch on the same
 * cores in the same run. Every measurement runs in its own child process (one tfjs backend per process,
 * and a peak RSS of its own); see bench/RESULTS.md for what each row means.
 *
 *   npm run bench -- [--sizes 96,224] [--batch 8] [--warmup 1] [--runs 5] [--backends node-gpu,node,wasm,cpu]
 *       [--cpu-runs 1] [--include-cpu] [--head-size 224] [--head-images 64] [--head-runs 3]
 *       [--full-step-size 96] [--threads 2] [--no-onnx] [--no-pytorch] [--python /usr/bin/python3]
 *       [--quiet-wait 0] [--retries 0] [--out bench/results/latest.json]
 *
 * On a shared machine, --quiet-wait N waits up to N seconds before each measurement for other processes to
 * use less than a quarter of a core, and --retries N measures a disturbed job again (up to N more times,
 * keeping the least disturbed); every row records how busy the others kept the machine anyway.
 * Writes the JSON report to --out and a Markdown copy of the table next to it (.md).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkTargets } from './acceptance-targets.js';
import { planJobs, type BenchJob, type BenchOptions } from './bench-plan.js';
import type { BenchResult } from './bench-result.js';
import { failureReason, runChild } from './child-process.js';
import { machineInfo, round2 } from './machine-info.js';
import { disturbedLoad, waitForQuiet } from './machine-load.js';
import { formatMarkdownReport, formatTextReport, type BenchFailure, type BenchReport } from './results-table.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '96,224' },
    batch: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    backends: { type: 'string', default: 'node-gpu,node,wasm,cpu' },
    'cpu-runs': { type: 'string', default: '1' },
    'include-cpu': { type: 'boolean', default: false },
    'head-size': { type: 'string', default: '224' },
    'head-images': { type: 'string', default: '64' },
    'head-runs': { type: 'string', default: '3' },
    'full-step-size': { type: 'string', default: '96' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    'quiet-wait': { type: 'string', default: '0' },
    retries: { type: 'string', default: '0' },
    'no-onnx': { type: 'boolean', default: false },
    'no-pytorch': { type: 'boolean', default: false },
    python: { type: 'string', default: '/usr/bin/python3' },
    out: { type: 'string', default: 'bench/results/latest.json' },
  },
});

const options: BenchOptions = {
  sizes: flags.sizes.split(',').map(Number),
  batch: Number(flags.batch),
  warmup: Number(flags.warmup),
  runs: Number(flags.runs),
  backends: flags.backends.split(','),
  cpuRuns: Number(flags['cpu-runs']),
  includeCpu: flags['include-cpu'],
  headSize: Number(flags['head-size']),
  headImages: Number(flags['head-images']),
  headRuns: Number(flags['head-runs']),
  fullStepSize: Number(flags['full-step-size']),
  threads: Number(flags.threads),
  onnx: !flags['no-onnx'],
  pytorch: !flags['no-pytorch'],
  python: flags.python,
  out: path.resolve(repoRoot, flags.out),
};

const quietWaitSeconds = Number(flags['quiet-wait']);
const retries = Number(flags.retries);
const log = (message: string) => process.stderr.write(message + '\n');
const nodeArgs = (script: string, args: readonly string[]) => ['--import', 'tsx', script, ...args];

async function probeBackends(): Promise<BenchReport['backends']> {
  const backends: BenchReport['backends'] = [];
  for (const name of options.backends) {
    const outcome = await runChild(process.execPath, nodeArgs('bench/backend-probe.ts', ['--backend', name]), {
      cwd: repoRoot,
      timeoutMs: 120_000,
    });
    const loaded = outcome.exitCode === 0;
    backends.push(loaded ? { name, loaded } : { name, loaded, reason: failureReason(outcome) });
    log(`backend ${name}: ${loaded ? 'loads' : `does not load (${failureReason(outcome)})`}`);
  }
  return backends;
}

/** torch and torchvision versions, or why PyTorch cannot run. */
async function probePytorch(): Promise<{ torch: string; torchvision: string } | { missing: string }> {
  const outcome = await runChild(
    options.python,
    ['-c', 'import torch, torchvision; print(torch.__version__, torchvision.__version__)'],
    { cwd: repoRoot, timeoutMs: 120_000 },
  );
  const [torch, torchvision] = outcome.stdout.trim().split(' ');
  if (outcome.exitCode === 0 && torch && torchvision) return { torch, torchvision };
  return {
    missing:
      `PyTorch is not available to ${options.python} (${failureReason(outcome)}), so there are no ratios. ` +
      'On Debian: apt-get update && apt-get install -y python3-torch python3-torchvision',
  };
}

async function runJob(job: BenchJob, index: number, total: number): Promise<BenchResult[] | BenchFailure> {
  const [command, args] =
    job.runner === 'node'
      ? [process.execPath, nodeArgs(job.script, job.args)]
      : [options.python, [job.script, ...job.args]];
  const prefix = `[${index + 1}/${total}] ${job.label}`;
  let best: BenchResult[] | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (quietWaitSeconds > 0) await waitForQuiet(disturbedLoad, quietWaitSeconds);
    const outcome = await runChild(command, args, { cwd: repoRoot, timeoutMs: job.timeoutMs });
    if (outcome.exitCode !== 0 || outcome.results.length === 0) {
      const reason = failureReason(outcome);
      log(`${prefix}: FAILED after ${outcome.seconds.toFixed(0)} s: ${reason}`);
      return best ?? { label: job.label, reason };
    }
    const figures = outcome.results
      .map((r) => `${r.task} ${r.imagesPerSecond.toFixed(1)} img/s (others' load ${r.othersLoad ?? '?'})`)
      .join(', ');
    log(`${prefix}: ${figures} (${outcome.seconds.toFixed(0)} s)`);
    if (!best || disturbance(outcome.results) < disturbance(best)) best = outcome.results;
    if (disturbance(best) <= disturbedLoad) break;
    if (attempt < retries) log(`${prefix}: disturbed by other processes, measuring again`);
  }
  return best!;
}

/** How busy others kept the machine during the most disturbed of a job's results. */
function disturbance(results: readonly BenchResult[]): number {
  return Math.max(0, ...results.map((r) => r.othersLoad ?? 0));
}

const started = performance.now();
const machine = await machineInfo();
log(`effnet-tl bench: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}`);
const backends = await probeBackends();
const pytorch = options.pytorch ? await probePytorch() : { missing: 'PyTorch skipped (--no-pytorch).' };
if ('torch' in pytorch) {
  machine.versions.torch = pytorch.torch;
  machine.versions.torchvision = pytorch.torchvision;
} else {
  log(pytorch.missing);
}

const loaded = backends.filter((b) => b.loaded).map((b) => b.name);
const jobs = planJobs(options, loaded, 'torch' in pytorch);
const results: BenchResult[] = [];
const failures: BenchFailure[] = [];
for (const [i, job] of jobs.entries()) {
  const outcome = await runJob(job, i, jobs.length);
  if (Array.isArray(outcome)) results.push(...outcome);
  else failures.push(outcome);
}
machine.loadAverage.end = round2(os.loadavg()[0]!);

const report: BenchReport = {
  machine,
  backends,
  results,
  failures,
  targets: checkTargets(results, { inference: 224, fullStep: options.fullStepSize, head: options.headSize }),
  ...('missing' in pytorch ? { pytorchMissing: pytorch.missing } : {}),
};
await mkdir(path.dirname(options.out), { recursive: true });
const json = { ...report, options, durationSeconds: Math.round((performance.now() - started) / 1000) };
await writeFile(options.out, JSON.stringify(json, null, 2) + '\n');
const markdownPath = options.out.replace(/\.json$/, '') + '.md';
await writeFile(markdownPath, formatMarkdownReport(report) + '\n');
console.log('\n' + formatTextReport(report));
console.log(
  `\nwritten ${path.relative(repoRoot, options.out)} and ${path.relative(repoRoot, markdownPath)} ` +
    `(${json.durationSeconds} s)`,
);
