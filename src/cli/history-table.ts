import type { HistoryEntry } from '../training/training-history.js';

/** The run's history as an aligned text table, one row per epoch. */
export function formatHistoryTable(history: readonly HistoryEntry[]): string {
  const header = ['phase', 'epoch', 'loss', 'acc', 'val_loss', 'val_acc', 'time', 'img/s'];
  const fixed = (v: number | null, digits: number) => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(digits));
  const rows = history.map((h) => [
    h.phase,
    String(h.epoch),
    fixed(h.loss, 4),
    fixed(h.accuracy, 3),
    fixed(h.valLoss, 4),
    fixed(h.valAccuracy, 3),
    `${(h.durationMs / 1000).toFixed(1)}s`,
    fixed(h.imagesPerSecond, 1),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
