import { freemem, totalmem } from 'node:os';
import { tf, type LayersModel } from '../compute/tf.js';

/**
 * How much memory one step takes, to choose `batchSize: 'auto'` and to refuse sizes that cannot fit.
 *
 *   bytes ≈ 4 × (P + 3·T)            weights, plus gradient and Adam's m and v per trainable weight
 *         + 4 × batch × perImage     activations
 *         + 128 MiB                  kernel workspace, allocator slack, the decoded batch
 *
 * P: all parameters; T: trainable ones. perImage depends on the kind of step:
 *  - 'backward', a training step through the base (phase 2, or phase 1 with BN in 'train' mode): tfjs'
 *    gradient tape keeps every op's output (layer outputs plus BN, swish and SE intermediates) and the
 *    backward pass adds gradients of the same size: k·A, with A the floats of all layer outputs for one
 *    image (from the model's output shapes). Measured from the growth of the wasm heap over Adam steps of
 *    B0 at 64 px, batch 4 vs 16: 5.2·A per extra image with BN in train mode, 3.2·A in inference mode;
 *    k = 6 leaves headroom.
 *  - 'forward', a pass with training=true and no backward (the precise-BN pass): tfjs keeps every layer
 *    output until the end of such a pass; measured 1.5·A, k = 2.
 *  - 'inference', a forward pass with training=false (phase 1 with BN in inference mode computes the
 *    frozen base's features this way, off the tape, and backpropagates through the head alone): layers'
 *    outputs are freed as soon as they are consumed, so about 3 × the largest layer output.
 *
 * The budget is what this process may use: on wasm the wasm32 heap, which can grow to 4 GiB but not past
 * it whatever the machine has, capped by free system memory; on cpu/node free system memory (and a
 * cgroup limit when Node reports one). Only a fraction (`safety`, 0.7) is planned for, leaving room for
 * decoded batches, fragmentation and the rest of the process.
 */

export const bytesPerFloat = 4;
export type StepKind = 'backward' | 'forward' | 'inference';
export const activationCopies = { backward: 6, forward: 2 } as const;
export const inferenceLargestOutputs = 3;
export const fixedOverheadBytes = 128 * 1024 ** 2;
export const wasmHeapLimitBytes = 4 * 1024 ** 3 - 64 * 1024;
export const autoBatchSizeCap = 32;
export const defaultSafety = 0.7;

export interface ModelMemoryProfile {
  totalParams: number;
  trainableParams: number;
  /** Floats of all layer outputs for one image. */
  activationsPerImage: number;
  /** Floats of the largest single layer output for one image. */
  largestActivation: number;
}

function elements(shape: readonly (number | null)[]): number {
  return shape.reduce<number>((a, b) => a * (b ?? 1), 1);
}

export function modelMemoryProfile(model: LayersModel): ModelMemoryProfile {
  let activationsPerImage = 0;
  let largestActivation = 0;
  for (const layer of model.layers) {
    const shape = layer.outputShape;
    const shapes = (Array.isArray(shape[0]) ? shape : [shape]) as (number | null)[][];
    for (const s of shapes) {
      const size = elements(s.slice(1));
      activationsPerImage += size;
      largestActivation = Math.max(largestActivation, size);
    }
  }
  const totalParams = model.weights.reduce((sum, w) => sum + elements(w.shape), 0);
  const trainableParams = model.trainableWeights.reduce((sum, w) => sum + elements(w.shape), 0);
  return { totalParams, trainableParams, activationsPerImage, largestActivation };
}

export function estimateStepBytes(profile: ModelMemoryProfile, batchSize: number, kind: StepKind): number {
  const perImage =
    kind === 'inference'
      ? inferenceLargestOutputs * profile.largestActivation
      : activationCopies[kind] * profile.activationsPerImage;
  const params = profile.totalParams + 3 * profile.trainableParams;
  return fixedOverheadBytes + bytesPerFloat * (params + batchSize * perImage);
}

/** Node 20's cgroup limit, when the process runs under one. */
function constrainedMemory(): number | undefined {
  const limit = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return limit && limit > 0 && limit < Number.MAX_SAFE_INTEGER ? limit : undefined;
}

/** Bytes the step may use on the current backend (before the safety factor). */
export function memoryBudgetBytes(backendName: string = tf.getBackend()): number {
  const system = Math.min(freemem(), constrainedMemory() ?? totalmem());
  // What tfjs holds already (the model's weights) counts towards the estimate, so add it back.
  const held = tf.memory().numBytes;
  if (backendName === 'wasm') return Math.min(wasmHeapLimitBytes, system + held);
  return system + held;
}

export interface BatchSizeChoice {
  batchSize: number;
  estimatedBytes: number;
  budgetBytes: number;
}

/**
 * 'auto': the largest power of two, at most `autoBatchSizeCap` (32, Keras' default batch size: larger
 * batches mean fewer optimizer steps per epoch, which small datasets cannot afford) and at most the
 * number of training images, whose estimate fits in `safety` × budget. Never less than 1.
 */
export function chooseBatchSize(
  profile: ModelMemoryProfile,
  kind: StepKind,
  trainImages: number,
  options: { budgetBytes?: number; safety?: number; cap?: number } = {},
): BatchSizeChoice {
  const budgetBytes = options.budgetBytes ?? memoryBudgetBytes();
  const usable = budgetBytes * (options.safety ?? defaultSafety);
  const cap = Math.max(1, Math.min(options.cap ?? autoBatchSizeCap, trainImages));
  let batchSize = 1;
  while (batchSize * 2 <= cap && estimateStepBytes(profile, batchSize * 2, kind) <= usable) batchSize *= 2;
  return { batchSize, estimatedBytes: estimateStepBytes(profile, batchSize, kind), budgetBytes };
}

/** The largest batch (at least 1, at most `cap`) whose `kind` estimate fits in `safety` × budget. */
export function largestFittingBatch(
  profile: ModelMemoryProfile,
  kind: StepKind,
  cap: number,
  options: { budgetBytes?: number; safety?: number } = {},
): number {
  const usable = (options.budgetBytes ?? memoryBudgetBytes()) * (options.safety ?? defaultSafety);
  const fixed = estimateStepBytes(profile, 0, kind);
  const perImage = estimateStepBytes(profile, 1, kind) - fixed;
  return Math.max(1, Math.min(cap, Math.floor((usable - fixed) / perImage)));
}

/** Whether an error is the backend running out of memory (wasm heap growth, ArrayBuffer allocation). */
export function isOutOfMemoryError(error: unknown): boolean {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return /out of memory|\bOOM\b|allocation failed|Cannot enlarge memory|could not allocate|Array buffer allocation|Invalid typed array length|memory access out of bounds/i.test(
    message,
  );
}

const wasmRuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: abstract new () => Error } })
  .WebAssembly.RuntimeError;

/** A trap or abort inside a WebAssembly module (e.g. the wasm backend failing an allocation). */
export function isWasmRuntimeError(error: unknown): boolean {
  return error instanceof wasmRuntimeError;
}
