import { tf } from '../tf.js';
import { WasmBackendShapeError, WasmKernelUnsupportedError } from './wasm-kernel-errors.js';

export type TensorInfo = tf.TensorInfo;

/**
 * The parts of tfjs-backend-wasm's BackendWasm (4.x) that our kernels use. The package does not export the
 * class type to us, so this is the contract we rely on; asWasmBackend() checks it at run time.
 */
export interface WasmBackend {
  dataIdMap: {
    get(dataId: object): { id: number; memoryOffset: number } | undefined;
    delete(dataId: object): unknown;
  };
  /** With memoryOffset, registers memory allocated elsewhere under a new tensor id instead of allocating. */
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): ArrayLike<number>;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  /** How many tensors share the data (tfjs-backend-wasm 4.x has it; absent means unknown). */
  refCount?(dataId: object): number;
  /**
   * The Emscripten module: `asm` exports the heap's WebAssembly.Memory (the threaded build has it as
   * `wasmMemory` instead), `tfjs` the C++ tensor registry.
   */
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown; tfjs?: { disposeData?(id: number): void } };
}

export function asWasmBackend(backend: unknown): WasmBackend {
  const b = backend as Partial<WasmBackend> | null;
  for (const key of ['dataIdMap', 'makeOutput', 'typedArrayFromHeap', 'disposeData', 'incRef'] as const) {
    if (b == null || b[key] == null) throw new WasmBackendShapeError(key);
  }
  return b as WasmBackend;
}

/**
 * A float32 view straight into the wasm heap. Take views only after the last allocation of a kernel:
 * allocating can grow the heap, which detaches every earlier view.
 */
export function heapF32(backend: WasmBackend, info: TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new WasmKernelUnsupportedError('heap access', `dtype ${info.dtype}, not float32`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Byte address of a tensor's data in the wasm heap. */
export function heapAddress(backend: WasmBackend, info: TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (data == null) throw new WasmKernelUnsupportedError('heap access', 'tensor data is not on the wasm backend');
  return data.memoryOffset;
}

/** Calls another kernel registered for 'wasm' directly: it runs inside the current kernel, unseen by the engine. */
export function runWasmKernel(
  backend: WasmBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (kernel == null) throw new WasmKernelUnsupportedError(kernelName, 'not registered for the wasm backend');
  const out = kernel.kernelFunc({ inputs, backend: backend as never, attrs: attrs as tf.NamedAttrMap });
  return Array.isArray(out) ? out[0]! : out;
}

/** The same data under another shape (shares memory; dispose it like any other intermediate). */
export function reshapeInfo(backend: WasmBackend, info: TensorInfo, shape: number[]): TensorInfo {
  backend.incRef(info.dataId);
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * A second tensor id for the same heap memory, for handing to a kernel that caches state by tensor id
 * (XNNPACK operators with packed copies of their weights). Release it with releaseAlias(), never
 * disposeData(), which would free the memory it shares.
 */
export function aliasOf(backend: WasmBackend, info: TensorInfo, shape: number[]): TensorInfo {
  if (backend.wasm?.tfjs?.disposeData == null) throw new WasmBackendShapeError('wasm.tfjs.disposeData');
  return backend.makeOutput(shape, 'float32', heapAddress(backend, info));
}

/** Drops an alias's id, which runs the C++ disposal callbacks registered on it, and leaves its memory alone. */
export function releaseAlias(backend: WasmBackend, alias: TensorInfo): void {
  const data = backend.dataIdMap.get(alias.dataId);
  if (data == null) return;
  backend.wasm!.tfjs!.disposeData!(data.id);
  backend.dataIdMap.delete(alias.dataId);
}

/** Intermediates a kernel allocates; disposeAll() in a finally block frees them whatever happens. */
export class Intermediates {
  private readonly infos: TensorInfo[] = [];

  constructor(private readonly backend: WasmBackend) {}

  keep<T extends TensorInfo>(info: T): T {
    this.infos.push(info);
    return info;
  }

  disposeAll(): void {
    for (const info of this.infos.splice(0)) this.backend.disposeData(info.dataId);
  }
}
