import type { BackendName, BackendPreference } from '../compute/backend.js';

/**
 * Messages between the inference pool and its child processes (IPC with `serialization: 'advanced'`, so
 * Uint8Array and Float32Array travel as binary, not JSON).
 */

export type InferenceKind = 'predict' | 'features';

export interface ChildInit {
  type: 'init';
  backend: BackendPreference;
  cacheBytes: number;
  limitInputPixels?: number;
}

export interface BatchRequest {
  type: 'batch';
  id: number;
  kind: InferenceKind;
  modelId: string;
  artifactDir: string;
  /** Encoded image files, as the client sent them. */
  images: Uint8Array[];
}

export interface EvictRequest {
  type: 'evict';
  id: number;
  modelId: string;
}

export interface MemoryRequest {
  type: 'memory';
  id: number;
}

export type ParentMessage = ChildInit | BatchRequest | EvictRequest | MemoryRequest;

export interface ChildReady {
  type: 'ready';
  pid: number;
  backend: BackendName;
  engine: string;
}

export interface ChildStartFailed {
  type: 'start-failed';
  message: string;
}

export interface BatchTimings {
  decodeMs: number;
  /** 0 when the model was cached. */
  loadMs: number;
  runMs: number;
}

export interface BatchSucceeded {
  type: 'batch-result';
  id: number;
  ok: true;
  /** Per image: null when it decoded, else ImageDecodeError.reason. */
  errors: Array<string | null>;
  /** Rows for the images that decoded, in order: probabilities (predict) or features (features). */
  values: Float32Array;
  width: number;
  /** metadata.classes, in output index order. */
  classes: string[];
  timings: BatchTimings;
  loadedModels: string[];
}

export interface BatchFailed {
  type: 'batch-result';
  id: number;
  ok: false;
  failure: 'model-load' | 'inference';
  message: string;
  loadedModels: string[];
}

export interface EvictReply {
  type: 'evict-result';
  id: number;
  evicted: boolean;
  loadedModels: string[];
}

export interface ChildMemory {
  pid: number;
  /** tf.memory() of the child: a count that grows under steady load is a tensor leak. */
  numTensors: number;
  numBytes: number;
  /** Size of the tfjs wasm module's heap (it only grows); null on the other backends. */
  wasmHeapBytes: number | null;
  loadedModels: string[];
  cacheBytes: number;
  rssBytes: number;
}

export interface MemoryReply {
  type: 'memory-result';
  id: number;
  memory: ChildMemory;
}

export type ChildMessage = ChildReady | ChildStartFailed | BatchSucceeded | BatchFailed | EvictReply | MemoryReply;
