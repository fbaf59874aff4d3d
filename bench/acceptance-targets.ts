import type { BenchResult, BenchTask } from './bench-result.js';
import { disturbedLoad } from './machine-load.js';

/**
 * Our speed as a ratio to PyTorch measured in the same run, and the acceptance targets on those ratios:
 *  - inference at 224 >= 0.5x PyTorch, on tfjs-wasm and/or onnxruntime (both are reported);
 *  - a full fine-tuning step at 96 >= 0.25x PyTorch on tfjs-wasm;
 *  - a cached head epoch <= 10% of the first (uncached) one.
 */

/** The PyTorch task each of ours is compared with (a head epoch is a sequence of head steps). */
const pytorchCounterpart: Partial<Record<BenchTask, BenchTask>> = {
  inference: 'inference',
  features: 'features',
  'head-epoch-first': 'head-step',
  'full-step': 'full-step',
};

export function pytorchReference(results: readonly BenchResult[], ours: BenchResult): BenchResult | undefined {
  const task = pytorchCounterpart[ours.task];
  return results.find(
    (r) => r.engine === 'pytorch' && r.task === task && r.imageSize === ours.imageSize && r.batch === ours.batch,
  );
}

/** ours / PyTorch in images per second, or undefined when either side was not measured. */
export function ratioToPytorch(results: readonly BenchResult[], ours: BenchResult): number | undefined {
  if (ours.engine === 'pytorch') return undefined;
  const reference = pytorchReference(results, ours);
  return reference ? ours.imagesPerSecond / reference.imagesPerSecond : undefined;
}

export interface TargetPart {
  engine: string;
  /** The measured ratio, or undefined when it could not be measured. */
  value?: number;
  pass: boolean;
  /** Other processes used the CPU while one side of it was measured: the verdict may be wrong. */
  disturbed: boolean;
}

export interface TargetCheck {
  name: string;
  /** e.g. '>= 0.5x PyTorch'. */
  requirement: string;
  parts: TargetPart[];
  /** Met by any part; undefined when nothing could be measured. */
  pass?: boolean;
  note?: string;
}

function isDisturbed(result: BenchResult | undefined): boolean {
  return (result?.othersLoad ?? 0) > disturbedLoad;
}

function find(results: readonly BenchResult[], task: BenchTask, engine: string, size: number) {
  return results.find((r) => r.task === task && r.engine === engine && r.imageSize === size);
}

function ratioTarget(
  results: readonly BenchResult[],
  name: string,
  task: BenchTask,
  size: number,
  engines: string[],
  minimum: number,
): TargetCheck {
  const parts = engines.map((engine): TargetPart => {
    const ours = find(results, task, engine, size);
    const value = ours ? ratioToPytorch(results, ours) : undefined;
    const disturbed = isDisturbed(ours) || isDisturbed(ours && pytorchReference(results, ours));
    return { engine, value, pass: value !== undefined && value >= minimum, disturbed };
  });
  const measured = parts.some((p) => p.value !== undefined);
  return {
    name,
    requirement: `>= ${minimum}x PyTorch`,
    parts,
    pass: measured ? parts.some((p) => p.pass) : undefined,
    note: measured ? undefined : 'PyTorch or the engine did not run',
  };
}

export function checkTargets(
  results: readonly BenchResult[],
  sizes: { inference: number; fullStep: number; head: number },
): TargetCheck[] {
  const first = find(results, 'head-epoch-first', 'tfjs-wasm', sizes.head);
  const cached = find(results, 'head-epoch-cached', 'tfjs-wasm', sizes.head);
  const share = first && cached ? cached.medianMs / first.medianMs : undefined;
  return [
    ratioTarget(
      results,
      `inference at ${sizes.inference}`,
      'inference',
      sizes.inference,
      ['tfjs-wasm', 'onnxruntime'],
      0.5,
    ),
    ratioTarget(
      results,
      `full fine-tuning step at ${sizes.fullStep}`,
      'full-step',
      sizes.fullStep,
      ['tfjs-wasm'],
      0.25,
    ),
    {
      name: `cached head epoch at ${sizes.head}`,
      requirement: '<= 10% of the first epoch',
      parts: [
        {
          engine: 'tfjs-wasm',
          value: share,
          pass: share !== undefined && share <= 0.1,
          disturbed: isDisturbed(first) || isDisturbed(cached),
        },
      ],
      pass: share === undefined ? undefined : share <= 0.1,
      note: share === undefined ? 'the head epoch did not run on wasm' : undefined,
    },
  ];
}
