import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * PyTorch's torchvision efficientnet_b0 on the same cores, for the service benches' ratios: images per second
 * of bench/pytorch_bench.py's `task` at `size` px, batch 8, or a sentence saying why it was not measured.
 */
export function pytorchImagesPerSecond(task: 'inference' | 'full-step', size: number): number | string {
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [
        path.resolve(import.meta.dirname, '../pytorch_bench.py'),
        '--task',
        task,
        '--size',
        String(size),
        '--batch',
        '8',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
    return (JSON.parse(line!.slice('BENCH_RESULT '.length)) as { imagesPerSecond: number }).imagesPerSecond;
  } catch {
    return 'not measured: /usr/bin/python3 lacks torch/torchvision (apt-get install python3-torch python3-torchvision)';
  }
}
