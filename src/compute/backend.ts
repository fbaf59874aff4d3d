import { createRequire } from 'node:module';
import path from 'node:path';
import { tf } from './tf.js';
import { activateThreadedWasm, wantedWasmThreads } from './wasm-threads.js';

/** What TF_BACKEND may ask for. `auto` walks the chain node-gpu -> node -> wasm -> cpu. */
export const backendPreferences = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof backendPreferences)[number];
export type BackendName = Exclude<BackendPreference, 'auto'>;

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  reason?: string;
}

export interface BackendInfo {
  /** Our name for it: node-gpu, node, wasm or cpu. */
  name: BackendName;
  /** tfjs' own backend name (tensorflow, wasm, cpu). */
  tfBackend: string;
  /** Version of the package that provides the backend. */
  version: string;
  /** Every backend tried before the chosen one, with the reason it was skipped. */
  attempts: BackendAttempt[];
  /** wasm only: XNNPACK's thread count (TF_WASM_THREADS); 1 is the single-threaded SIMD build. */
  threads?: number;
  /** wasm only: why it runs on one thread although TF_WASM_THREADS asked for more. */
  threadsFallback?: string;
}

type Activated = Pick<BackendInfo, 'tfBackend' | 'threads' | 'threadsFallback'>;

export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    readonly reason: string,
  ) {
    super(`TF_BACKEND=${backend} cannot be loaded: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

const require = createRequire(import.meta.url);
const chain: BackendName[] = ['node-gpu', 'node', 'wasm', 'cpu'];
const packageOf: Record<BackendName, string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return tf.version.tfjs;
  }
}

/** Directory holding the .wasm binaries shipped inside @tensorflow/tfjs-backend-wasm (no network). */
export function wasmBinaryDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;
}

async function activate(name: BackendName): Promise<Activated> {
  switch (name) {
    case 'node-gpu':
    case 'node': {
      // tfjs-node registers the 'tensorflow' backend on the shared tfjs-core when it loads.
      await import(packageOf[name]);
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tensorflow backend failed to initialise');
      if (name === 'node-gpu' && !gpuVisible()) throw new Error('no CUDA device visible to libtensorflow');
      return { tfBackend: 'tensorflow' };
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(wasmBinaryDir());
      const { registerWasmGradientKernels } = await import('./wasm-gradient-kernels.js');
      registerWasmGradientKernels();
      const threads = wantedWasmThreads();
      let threadsFallback: string | undefined;
      if (threads > 1) {
        try {
          return { tfBackend: 'wasm', threads: await activateThreadedWasm(wasm, threads) };
        } catch (error) {
          threadsFallback = reasonOf(error);
        }
      }
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
      return { tfBackend: 'wasm', threads: 1, ...(threadsFallback && { threadsFallback }) };
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
      return { tfBackend: 'cpu' };
    }
  }
}

function gpuVisible(): boolean {
  // tfjs-node-gpu silently runs on the CPU when CUDA is missing; require a visible device.
  const env = process.env.CUDA_VISIBLE_DEVICES;
  return env !== '' && env !== '-1';
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 300);
}

let selected: Promise<BackendInfo> | undefined;

/**
 * Chooses and initialises the tfjs backend once per process. An explicit preference that cannot load
 * is an error; `auto` takes the first backend of the chain that loads and records why the others did not.
 */
export function selectBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  selected ??= choose(preference);
  return selected;
}

/** The backend chosen earlier in this process, or undefined before selectBackend() has finished. */
export function currentBackend(): Promise<BackendInfo> | undefined {
  return selected;
}

async function choose(preference: BackendPreference): Promise<BackendInfo> {
  const candidates = preference === 'auto' ? chain : [preference];
  const attempts: BackendAttempt[] = [];
  for (const name of candidates) {
    try {
      const activated = await activate(name);
      attempts.push({ name, ok: true });
      return { name, ...activated, version: packageVersion(packageOf[name]), attempts };
    } catch (error) {
      attempts.push({ name, ok: false, reason: reasonOf(error) });
      if (preference !== 'auto') {
        selected = undefined;
        throw new BackendUnavailableError(name, reasonOf(error));
      }
    }
  }
  selected = undefined;
  throw new BackendUnavailableError('cpu', attempts.map((a) => `${a.name}: ${a.reason}`).join('; '));
}
