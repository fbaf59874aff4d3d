import os from 'node:os';
import { onnxFeaturesName, onnxInputName, onnxProbabilitiesName } from './onnx-io-names.js';

/**
 * Inference on an exported model with onnxruntime-node (~9x tfjs-wasm on EfficientNet-B0 here, see
 * bench/onnx). The package is an optional dependency and is loaded lazily: where it is absent or its
 * native binary will not load, OnnxRuntimeUnavailableError tells callers to serve with tfjs instead.
 *
 * The runtime's API is described by the few structural types below rather than imported, so this file
 * compiles whether or not the optional package is installed.
 */

export class OnnxRuntimeUnavailableError extends Error {
  constructor(
    readonly moduleName: string,
    readonly reason: string,
  ) {
    super(`${moduleName} cannot be loaded (${reason}); serve with tfjs instead`);
    this.name = 'OnnxRuntimeUnavailableError';
  }
}

export class OnnxModelLoadError extends Error {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`onnxruntime cannot load the ONNX model from ${source}: ${reason}`);
    this.name = 'OnnxModelLoadError';
  }
}

/** Bad pixels/n/size, or onnxruntime failed while running the model. */
export class OnnxRunError extends Error {
  constructor(message: string) {
    super(`runOnnx: ${message}`);
    this.name = 'OnnxRunError';
  }
}

export class InvalidOnnxSessionOptionsError extends Error {
  constructor(message: string) {
    super(`createOnnxSession: ${message}`);
    this.name = 'InvalidOnnxSessionOptionsError';
  }
}

export interface OnnxSessionOptions {
  /** Threads of one convolution; default os.availableParallelism(). */
  intraOpThreads?: number;
}

export interface OnnxOutputs {
  /** [n, classes] row-major; undefined for a model exported with outputs: 'features-only'. */
  probabilities?: Float32Array;
  /** [n, featureDim] row-major. */
  features: Float32Array;
}

interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

interface OrtInferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

interface OrtModule {
  InferenceSession: {
    create(model: string | Uint8Array, options: Record<string, unknown>): Promise<OrtInferenceSession>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions?: { node?: string } };
}

export interface OnnxSession {
  readonly hasClassifier: boolean;
  /** onnxruntime-node's version. */
  readonly runtimeVersion: string;
  readonly intraOpThreads: number;
  /** @internal */
  readonly ort: OrtModule;
  /** @internal */
  readonly session: OrtInferenceSession;
  release(): Promise<void>;
}

/**
 * The package that provides onnxruntime. ONNXRUNTIME_MODULE names another one; the tests point it at a
 * package that does not exist to prove everything falls back to tfjs when onnxruntime-node cannot load.
 */
export const onnxRuntimeModule = process.env.ONNXRUNTIME_MODULE || 'onnxruntime-node';
const loaded = new Map<string, Promise<OrtModule>>();

/** Imports onnxruntime (once per module name); rejects with OnnxRuntimeUnavailableError. */
export function loadOnnxRuntime(moduleName = onnxRuntimeModule): Promise<OrtModule> {
  let promise = loaded.get(moduleName);
  if (!promise) {
    promise = importRuntime(moduleName);
    loaded.set(moduleName, promise);
  }
  return promise;
}

async function importRuntime(moduleName: string): Promise<OrtModule> {
  try {
    // A computed specifier, so TypeScript does not need the optional package's types.
    const imported = (await import(moduleName)) as Partial<OrtModule> & { default?: OrtModule };
    const ort = imported.InferenceSession ? (imported as OrtModule) : imported.default;
    if (!ort?.InferenceSession || !ort.Tensor) throw new Error('the module has no InferenceSession/Tensor');
    return ort;
  } catch (error) {
    throw new OnnxRuntimeUnavailableError(moduleName, reasonOf(error));
  }
}

export async function isOnnxRuntimeAvailable(moduleName = onnxRuntimeModule): Promise<boolean> {
  try {
    await loadOnnxRuntime(moduleName);
    return true;
  } catch {
    return false;
  }
}

/** A session on serialized ONNX bytes (exportToOnnx) or a .onnx file path. */
export async function createOnnxSession(
  model: Uint8Array | string,
  options: OnnxSessionOptions = {},
): Promise<OnnxSession> {
  const intraOpThreads = options.intraOpThreads ?? os.availableParallelism();
  if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1) {
    throw new InvalidOnnxSessionOptionsError(`intraOpThreads must be a positive integer, got ${intraOpThreads}`);
  }
  const ort = await loadOnnxRuntime();
  const source = typeof model === 'string' ? model : `${model.byteLength} bytes`;
  let session: OrtInferenceSession;
  try {
    session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: intraOpThreads,
      // One request is one batch through a chain of convolutions: nothing to run side by side.
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (error) {
    throw new OnnxModelLoadError(source, reasonOf(error));
  }
  if (!session.inputNames.includes(onnxInputName) || !session.outputNames.includes(onnxFeaturesName)) {
    await session.release();
    throw new OnnxModelLoadError(source, `expected input '${onnxInputName}' and output '${onnxFeaturesName}'`);
  }
  return {
    hasClassifier: session.outputNames.includes(onnxProbabilitiesName),
    runtimeVersion: ort.env.versions?.node ?? 'unknown',
    intraOpThreads,
    ort,
    session,
    release: () => session.release(),
  };
}

/** Runs `n` square RGB images of side `size` (NHWC float32 0..255, as the tfjs model takes them). */
export async function runOnnx(
  session: OnnxSession,
  pixels: Float32Array,
  n: number,
  size: number,
): Promise<OnnxOutputs> {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(size) || size < 1) {
    throw new OnnxRunError(`n and size must be positive integers, got n=${n}, size=${size}`);
  }
  if (pixels.length !== n * size * size * 3) {
    throw new OnnxRunError(`expected ${n}x${size}x${size}x3 = ${n * size * size * 3} floats, got ${pixels.length}`);
  }
  const input = new session.ort.Tensor('float32', pixels, [n, size, size, 3]);
  let results: Record<string, OrtTensor>;
  try {
    results = await session.session.run({ [onnxInputName]: input });
  } catch (error) {
    throw new OnnxRunError(reasonOf(error));
  }
  const features = results[onnxFeaturesName]!.data as Float32Array;
  const probabilities = session.hasClassifier ? (results[onnxProbabilitiesName]!.data as Float32Array) : undefined;
  return probabilities ? { probabilities, features } : { features };
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 300);
}
