import type { TargetCheck } from './acceptance-targets.js';
import { ratioToPytorch } from './acceptance-targets.js';
import type { BenchResult, BenchTask } from './bench-result.js';
import type { MachineInfo } from './machine-info.js';
import { disturbedLoad } from './machine-load.js';

/** The report of a run, as a plain-text table for the terminal and as Markdown for RESULTS.md. */

export interface BenchFailure {
  label: string;
  reason: string;
}

export interface BenchReport {
  machine: MachineInfo;
  backends: Array<{ name: string; loaded: boolean; reason?: string }>;
  results: BenchResult[];
  failures: BenchFailure[];
  targets: TargetCheck[];
  /** Why there is no PyTorch column, when there is none. */
  pytorchMissing?: string;
}

const taskTitle: Record<BenchTask, string> = {
  inference: 'inference (classifier)',
  features: 'features (avg_pool)',
  'head-epoch-first': 'head epoch, first (uncached)',
  'head-epoch-cached': 'head epoch, cached',
  'head-step': 'head-only step (frozen base)',
  'full-step': 'full fine-tuning step',
};
const taskOrder: BenchTask[] = [
  'inference',
  'features',
  'head-epoch-first',
  'head-step',
  'head-epoch-cached',
  'full-step',
];
const engineOrder = ['tfjs-node-gpu', 'tfjs-node', 'tfjs-wasm', 'onnxruntime', 'tfjs-cpu', 'pytorch'];

function sortResults(results: readonly BenchResult[]): BenchResult[] {
  const rank = (r: BenchResult) => [taskOrder.indexOf(r.task), r.imageSize, engineOrder.indexOf(r.engine)];
  return [...results].sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
}

function note(r: BenchResult, results: readonly BenchResult[]): string {
  const notes: string[] = [];
  const threads = r.details?.intraOpThreads ?? r.details?.threads;
  if (threads !== undefined) notes.push(`${threads} thread${threads === 1 ? '' : 's'}`);
  else if (r.engine.startsWith('tfjs-')) notes.push('1 thread');
  if (r.warmupRuns === 0) notes.push('no warm-up');
  if (r.task === 'head-epoch-first') notes.push(`${r.details?.images} images, decoded from JPEG`);
  if (r.task === 'head-epoch-cached') {
    const first = results.find(
      (f) => f.task === 'head-epoch-first' && f.engine === r.engine && f.imageSize === r.imageSize,
    );
    if (first) notes.push(`${((r.medianMs / first.medianMs) * 100).toFixed(1)}% of first`);
    notes.push(`cache built in ${((Number(r.details?.cacheBuildMs) || 0) / 1000).toFixed(1)} s`);
  }
  if (r.task === 'head-step') notes.push('per batch; vs our uncached epoch');
  return notes.join(', ');
}

interface Row {
  cells: string[];
}

const header = [
  'task',
  'px',
  'engine',
  'img/s',
  'median ms',
  'runs',
  'CPU ms/img',
  'peak RSS MiB',
  'others',
  'vs PyTorch',
  'notes',
];
const numericColumns = new Set([1, 3, 4, 5, 6, 7, 8, 9]);

function othersCell(r: BenchResult): string {
  if (r.othersLoad === undefined) return '?';
  return r.othersLoad.toFixed(2) + (r.othersLoad > disturbedLoad ? '*' : '');
}

function rows(report: BenchReport): Row[] {
  return sortResults(report.results).map((r) => {
    const ratio = ratioToPytorch(report.results, r);
    return {
      cells: [
        taskTitle[r.task],
        String(r.imageSize),
        r.engine,
        r.imagesPerSecond >= 100
          ? r.imagesPerSecond.toFixed(0)
          : r.imagesPerSecond.toFixed(r.imagesPerSecond >= 10 ? 1 : 2),
        r.medianMs.toFixed(r.medianMs >= 100 ? 0 : 1),
        String(r.runsMs.length),
        r.cpuMsPerImage.toFixed(1),
        (r.peakRssBytes / 2 ** 20).toFixed(0),
        othersCell(r),
        ratio === undefined ? (r.engine === 'pytorch' ? '1' : '-') : formatRatio(ratio),
        note(r, report.results),
      ],
    };
  });
}

function formatRatio(ratio: number): string {
  const digits =
    ratio >= 10
      ? ratio.toFixed(0)
      : ratio >= 1
        ? ratio.toFixed(1)
        : ratio >= 0.01
          ? ratio.toFixed(2)
          : ratio.toPrecision(1);
  return `${digits}x`;
}

export function describeMachine(m: MachineInfo): string[] {
  const v = m.versions;
  return [
    `date ${m.date}`,
    `machine ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; load average ${m.loadAverage.start} at start, ` +
      `${m.loadAverage.end ?? '?'} at end`,
    `Node ${m.node}, tfjs ${v.tfjs}, tfjs-backend-wasm ${v['tfjs-backend-wasm']}, onnxruntime-node ` +
      `${v['onnxruntime-node'] ?? 'absent'}, torch ${v.torch ?? 'absent'}, torchvision ${v.torchvision ?? 'absent'}`,
  ];
}

export function describeTargets(targets: readonly TargetCheck[]): string[] {
  return targets.map((t) => {
    const verdict = t.pass === undefined ? 'NOT MEASURED' : t.pass ? 'PASS' : 'FAIL';
    const parts = t.parts
      .map((p) => {
        const value =
          p.value === undefined
            ? 'n/a'
            : t.requirement.includes('%')
              ? `${(p.value * 100).toFixed(1)}%`
              : formatRatio(p.value);
        const verdict = p.value === undefined ? '' : (p.pass ? 'PASS' : 'FAIL') + (p.disturbed ? ' (disturbed*)' : '');
        return `${p.engine} ${value} ${verdict}`.trim();
      })
      .join('; ');
    return `${verdict.padEnd(12)} ${t.name} ${t.requirement}: ${parts}${t.note ? ` (${t.note})` : ''}`;
  });
}

function footer(report: BenchReport): string[] {
  const lines: string[] = [
    'img/s: images per second of the median timed run (an epoch counts its images); median ms: per batch, per ' +
      'epoch for head epochs; others: cores other processes kept busy meanwhile (* above ' +
      `${disturbedLoad}: disturbed, PyTorch's 2 OpenMP threads most of all); vs PyTorch: img/s over PyTorch's ` +
      'img/s for the same task and size.',
  ];
  const disturbed = report.results.filter((r) => (r.othersLoad ?? 0) > disturbedLoad).length;
  if (disturbed > 0) {
    lines.push(
      `WARNING: ${disturbed} of ${report.results.length} rows were measured while others used the CPU; on a ` +
        'shared machine run `npm run bench -- --quiet-wait 60 --retries 2`.',
    );
  }
  const skipped = report.backends.filter((b) => !b.loaded);
  if (skipped.length > 0)
    lines.push(`tfjs backends that did not load: ${skipped.map((b) => `${b.name} (${b.reason})`).join('; ')}`);
  for (const f of report.failures) lines.push(`FAILED ${f.label}: ${f.reason}`);
  if (report.pytorchMissing) lines.push(report.pytorchMissing);
  return lines;
}

export function formatTextReport(report: BenchReport): string {
  const body = rows(report).map((r) => r.cells);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numericColumns.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [
    ...describeMachine(report.machine),
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
    ...footer(report),
    'Acceptance targets:',
    ...describeTargets(report.targets).map((l) => `  ${l}`),
  ].join('\n');
}

export function formatMarkdownReport(report: BenchReport): string {
  const escape = (s: string) => s.replace(/\|/g, '\\|');
  const tableRow = (cells: string[]) => `| ${cells.map(escape).join(' | ')} |`;
  return [
    ...describeMachine(report.machine).map((l) => `- ${l}`),
    '',
    tableRow(header),
    tableRow(header.map((_, i) => (numericColumns.has(i) ? '---:' : '---'))),
    ...rows(report).map((r) => tableRow(r.cells)),
    '',
    ...footer(report).map((l) => `- ${l}`),
    '',
    'Acceptance targets:',
    '',
    ...describeTargets(report.targets).map((l) => `- ${l.replace(/^(\S+(?: MEASURED)?)\s+/, '**$1** ')}`),
  ].join('\n');
}
