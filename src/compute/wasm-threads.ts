import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type * as WasmBackendPackage from '@tensorflow/tfjs-backend-wasm';
import { tf } from './tf.js';

// tfjs-backend-wasm ships a threaded SIMD build (XNNPACK on a pthread pool) but never loads it in Node
// (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE, tensorflow/tfjs#3830). Two things stand in its way:
// - its loader hands Emscripten `blob:` URLs for the pthread worker script and the module factory, and
//   Node's Worker takes only paths or file:/data: URLs (ERR_WORKER_PATH);
// - backend.cc sizes the pool as min(requested, emscripten_num_logical_cores() / 2), halving for
//   hyper-threading, so a 2-CPU machine gets one thread whatever setThreadsCount() asked for.
// So this file builds the package's own threaded Emscripten module itself, with a data: URL for the worker
// and that one import answered with 2 × the wanted threads, and registers it as the 'wasm' backend.

/** backend.cc caps the XNNPACK pool at 8, the number of workers the Emscripten glue pre-creates. */
export const maxWasmThreads = 8;

/** How long the threaded module may take to start its workers before we fall back to one thread. */
const startTimeoutMs = 60_000;

type WasmPackage = typeof WasmBackendPackage;
type BackendModule = ConstructorParameters<WasmPackage['BackendWasm']>[0];

interface NodeWorker {
  ref(): void;
  unref(): void;
  terminate(): unknown;
}

/** The parts of the Emscripten runtime (emscripten 3.1, tfjs 4.x) this file relies on. */
interface ThreadedModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  PThread: { runningWorkers: NodeWorker[]; unusedWorkers: NodeWorker[]; terminateAllThreads(): void };
  tfjs?: Record<string, unknown>;
}

interface EmscriptenConfig {
  locateFile(file: string, prefix: string): string | URL;
  mainScriptUrlOrBlob: string;
  instantiateWasm(imports: WasmImports, receive: (instance: unknown, module: unknown) => void): object;
  PThread?: ThreadedModule['PThread'];
}

type WasmImports = Record<string, Record<string, unknown>>;

// The project's TypeScript lib has no WebAssembly declarations; Node has the global.
const webAssembly = (
  globalThis as unknown as {
    WebAssembly: { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: unknown; module: unknown }> };
  }
).WebAssembly;

const require = createRequire(import.meta.url);

/**
 * The thread count TF_WASM_THREADS asks for: 0 (the default) means one per CPU, capped at maxWasmThreads;
 * 1 keeps the single-threaded SIMD build.
 */
export function wantedWasmThreads(setting = process.env.TF_WASM_THREADS): number {
  const requested = setting == null || setting.trim() === '' ? 0 : Number(setting);
  if (!Number.isInteger(requested) || requested < 0 || requested > maxWasmThreads) {
    throw new Error(`TF_WASM_THREADS must be an integer from 0 to ${maxWasmThreads}, got ${JSON.stringify(setting)}`);
  }
  return requested === 0 ? Math.min(os.availableParallelism(), maxWasmThreads) : requested;
}

function packageFiles(): { factory: string; worker: string; binary: string } {
  const factory = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const dir = path.dirname(factory);
  return {
    factory,
    worker: path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js'),
    binary: path.join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'),
  };
}

/**
 * The pthread worker as an ES module in a data: URL. The package ships the worker script as a string meant
 * for a Blob (tfjs escapes its raw newlines the same way); it already has a Node branch (worker_threads,
 * importScripts by reading files) and only needs `require` and a file name, and it loads the factory file
 * from the path we pass as mainScriptUrlOrBlob.
 */
function workerUrl(files: { factory: string; worker: string }): URL {
  const source = [
    "import { createRequire } from 'node:module';",
    `const require = createRequire(${JSON.stringify(files.factory)});`,
    `const { wasmWorkerContents } = require(${JSON.stringify(files.worker)});`,
    "new Function('require', '__filename', wasmWorkerContents.replace(/\\n/g, '\\\\n'))" +
      `(require, ${JSON.stringify(files.factory)});`,
  ].join('\n');
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function loadThreadedModule(threads: number): Promise<ThreadedModule> {
  const files = packageFiles();
  const factory = require(files.factory) as (config: EmscriptenConfig) => Promise<ThreadedModule>;
  const binary = fs.readFileSync(files.binary);
  const worker = workerUrl(files);
  const config: EmscriptenConfig = {
    locateFile: (file, prefix) => (file.endsWith('.worker.js') ? worker : prefix + file),
    mainScriptUrlOrBlob: files.factory,
    instantiateWasm(imports, receive) {
      const env = { ...imports.env, emscripten_num_logical_cores: () => 2 * threads };
      void webAssembly
        .instantiate(binary, { ...imports, env, wasi_snapshot_preview1: env })
        .then(({ instance, module }) => receive(instance, module));
      return {};
    },
  };
  try {
    const module = await withTimeout(factory(config), startTimeoutMs, 'starting the threaded wasm module');
    // The same C++ entry points tfjs-backend-wasm's own loader wraps (backend_wasm.ts, init()).
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    return module;
  } catch (error) {
    config.PThread?.terminateAllThreads();
    throw error;
  }
}

/**
 * Lets the process exit while the pool waits for work (Emscripten refs a worker once it runs a pthread)
 * and ends the pre-created workers the pool does not use (about 7 MB each).
 */
function releaseIdleWorkers(module: ThreadedModule): void {
  for (const worker of module.PThread.runningWorkers) worker.unref();
  for (const worker of module.PThread.unusedWorkers.splice(0)) void worker.terminate();
}

/**
 * Makes 'wasm' the threaded SIMD build with `threads` XNNPACK threads and selects it; returns the thread
 * count the pool reports. On any failure the package's own single-threaded 'wasm' registration is put back
 * and the error rethrown, so the caller can select that instead.
 */
export async function activateThreadedWasm(wasm: WasmPackage, threads: number): Promise<number> {
  const original = tf.findBackendFactory('wasm');
  const priority = 2; // tfjs-backend-wasm's own WASM_PRIORITY
  let module: ThreadedModule | undefined;
  try {
    module = await loadThreadedModule(threads);
    tf.removeBackend('wasm');
    wasm.setThreadsCount(threads);
    tf.registerBackend('wasm', () => new wasm.BackendWasm(module as unknown as BackendModule), priority);
    if (!(await tf.setBackend('wasm'))) throw new Error('the threaded wasm backend failed to initialise');
    const actual = wasm.getThreadsCount();
    releaseIdleWorkers(module);
    if (actual !== threads) throw new Error(`asked XNNPACK for ${threads} threads, its pool has ${actual}`);
    return actual;
  } catch (error) {
    tf.removeBackend('wasm'); // disposes an initialised backend, which ends its workers
    module?.PThread.terminateAllThreads();
    wasm.setThreadsCount(1);
    if (original != null) tf.registerBackend('wasm', original, priority);
    throw error;
  }
}
