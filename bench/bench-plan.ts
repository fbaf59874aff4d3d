/**
 * Which child processes `npm run bench` starts, in which order. Each (task, size) runs on every engine
 * back to back, PyTorch included, so that a ratio compares runs made under the same load from others.
 */

export interface BenchOptions {
  sizes: number[];
  batch: number;
  warmup: number;
  runs: number;
  /** tfjs backends to try; those that load get the inference rows. */
  backends: string[];
  /** Timed runs of inference on tfjs' cpu backend (no warm-up: ~13 s a batch at 224, first run no slower). */
  cpuRuns: number;
  /** Also time a full step on the cpu backend (~90 s a step). */
  includeCpu: boolean;
  headSize: number;
  headImages: number;
  headRuns: number;
  fullStepSize: number;
  threads: number;
  onnx: boolean;
  pytorch: boolean;
  python: string;
  out: string;
}

export interface BenchJob {
  label: string;
  runner: 'node' | 'python';
  script: string;
  args: string[];
  timeoutMs: number;
}

/** Backends that train: cpu only on request, it is two orders of magnitude slower. */
const trainingBackends = new Set(['node-gpu', 'node', 'wasm']);

export function planJobs(options: BenchOptions, loadedBackends: readonly string[], pytorch: boolean): BenchJob[] {
  const o = options;
  const jobs: BenchJob[] = [];
  const schedule = (engine: string) =>
    engine === 'cpu'
      ? ['--warmup', '0', '--runs', String(o.cpuRuns)]
      : ['--warmup', String(o.warmup), '--runs', String(o.runs)];
  const minutes = (m: number) => m * 60_000;

  for (const size of o.sizes) {
    for (const task of ['inference', 'features']) {
      const common = ['--task', task, '--size', String(size), '--batch', String(o.batch)];
      const classes = ['--classes', task === 'inference' ? '1000' : '10'];
      const fast = loadedBackends.filter((b) => b !== 'cpu');
      for (const backend of fast) {
        jobs.push(
          nodeJob(
            `tfjs-${backend} ${task} ${size}`,
            'bench/inference.bench.ts',
            ['--backend', backend, ...common, ...classes, ...schedule(backend)],
            minutes(5),
          ),
        );
      }
      if (o.onnx) {
        jobs.push(
          nodeJob(
            `onnxruntime ${task} ${size}`,
            'bench/inference.bench.ts',
            [
              '--backend',
              'onnxruntime',
              ...common,
              ...classes,
              ...schedule('onnxruntime'),
              '--threads',
              String(o.threads),
            ],
            minutes(5),
          ),
        );
      }
      if (pytorch) jobs.push(pythonJob(o, `pytorch ${task} ${size}`, [...common, ...classes, ...schedule('pytorch')]));
      if (loadedBackends.includes('cpu')) {
        jobs.push(
          nodeJob(
            `tfjs-cpu ${task} ${size}`,
            'bench/inference.bench.ts',
            ['--backend', 'cpu', ...common, ...classes, ...schedule('cpu')],
            minutes(10),
          ),
        );
      }
    }
  }

  const trainOn = loadedBackends.filter((b) => trainingBackends.has(b));
  for (const backend of trainOn) {
    jobs.push(
      nodeJob(
        `tfjs-${backend} head epoch ${o.headSize}`,
        'bench/head-epoch.bench.ts',
        [
          '--backend',
          backend,
          '--size',
          String(o.headSize),
          '--images',
          String(o.headImages),
          '--batch',
          String(o.batch),
          '--warmup',
          '1',
          '--runs',
          String(o.headRuns),
        ],
        minutes(10),
      ),
    );
  }
  if (pytorch) {
    jobs.push(
      pythonJob(o, `pytorch head step ${o.headSize}`, [
        '--task',
        'head-step',
        '--size',
        String(o.headSize),
        '--batch',
        String(o.batch),
        '--classes',
        '10',
        ...schedule('pytorch'),
      ]),
    );
  }

  const stepArgs = ['--size', String(o.fullStepSize), '--batch', String(o.batch)];
  for (const backend of trainOn) {
    jobs.push(
      nodeJob(
        `tfjs-${backend} full step ${o.fullStepSize}`,
        'bench/full-step.bench.ts',
        ['--backend', backend, ...stepArgs, ...schedule(backend)],
        minutes(10),
      ),
    );
  }
  if (pytorch) {
    jobs.push(
      pythonJob(o, `pytorch full step ${o.fullStepSize}`, [
        '--task',
        'full-step',
        ...stepArgs,
        '--classes',
        '10',
        ...schedule('pytorch'),
      ]),
    );
  }
  if (o.includeCpu && loadedBackends.includes('cpu')) {
    jobs.push(
      nodeJob(
        `tfjs-cpu full step ${o.fullStepSize}`,
        'bench/full-step.bench.ts',
        ['--backend', 'cpu', ...stepArgs, '--warmup', '0', '--runs', String(o.cpuRuns)],
        minutes(20),
      ),
    );
  }
  return jobs;
}

function nodeJob(label: string, script: string, args: string[], timeoutMs: number): BenchJob {
  return { label, runner: 'node', script, args, timeoutMs };
}

function pythonJob(o: BenchOptions, label: string, args: string[]): BenchJob {
  return {
    label,
    runner: 'python',
    script: 'bench/pytorch_bench.py',
    args: [...args, '--threads', String(o.threads)],
    timeoutMs: 5 * 60_000,
  };
}
