import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';

/** What the numbers were measured on: they mean little without it. */
export interface MachineInfo {
  date: string;
  cpuModel: string;
  /** Cores this process may use (what PyTorch and onnxruntime are given as threads by default). */
  cores: number;
  logicalCpus: number;
  memoryGiB: number;
  os: string;
  node: string;
  versions: Record<string, string | null>;
  /** 1-minute load average when the run started and ended: above 0 means others shared the machine. */
  loadAverage: { start: number; end?: number };
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string | null {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

async function cpuModel(): Promise<string> {
  try {
    const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
    const line = cpuinfo.split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    // Not Linux: fall back to what Node reports.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export async function machineInfo(): Promise<MachineInfo> {
  return {
    date: new Date().toISOString(),
    cpuModel: await cpuModel(),
    cores: os.availableParallelism(),
    logicalCpus: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    versions: {
      tfjs: packageVersion('@tensorflow/tfjs'),
      'tfjs-backend-wasm': packageVersion('@tensorflow/tfjs-backend-wasm'),
      'onnxruntime-node': packageVersion('onnxruntime-node'),
      torch: null,
      torchvision: null,
    },
    loadAverage: { start: round2(os.loadavg()[0]!) },
  };
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
