/**
 * Entry of one inference child process (forked by InferencePool). It owns a tfjs backend, an LRU cache of
 * loaded models and runs batches: images are decoded as soon as a batch arrives (sharp works on libuv's
 * thread pool, so this overlaps the previous batch's inference), then batches take turns on the model.
 */
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { decodeImage, ImageDecodeError, type DecodedImage } from '../data/image-decode.js';
import { readTrainedModelMetadata } from '../training/trained-model.js';
import type { TrainedModelMetadata } from '../training/trained-model-metadata.js';
import { engineForArtifact, preferredEngineName } from './engine-for-artifact.js';
import type { InferenceEngine, LoadedModel } from './inference-engine.js';
import type {
  BatchRequest,
  ChildInit,
  ChildMessage,
  EvictRequest,
  MemoryRequest,
  ParentMessage,
} from './inference-protocol.js';
import { ModelCache } from './model-cache.js';

interface CachedModel {
  engine: InferenceEngine;
  loaded: LoadedModel;
  bytes: number;
}

let cache: ModelCache<CachedModel> | undefined;
let limitInputPixels: number | undefined;
let initialized: Promise<void> | undefined;
// Model access (load, run, evict, dispose) happens one batch at a time, so a model is never disposed under a
// running batch; decoding stays outside this chain.
let modelTurn: Promise<unknown> = Promise.resolve();

function inModelTurn<T>(fn: () => Promise<T> | T): Promise<T> {
  const turn = modelTurn.then(fn);
  modelTurn = turn.catch(() => undefined);
  return turn;
}

function send(message: ChildMessage): void {
  // A parent that went away cannot be told anything; the 'disconnect' handler ends this process.
  if (process.connected) process.send!(message);
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 500);
}

function loadedModels(): string[] {
  return cache?.ids() ?? [];
}

async function init(message: ChildInit): Promise<void> {
  try {
    const info = await selectBackend(message.backend);
    limitInputPixels = message.limitInputPixels;
    cache = new ModelCache<CachedModel>(message.cacheBytes, (entry) => entry.engine.dispose(entry.loaded));
    send({ type: 'ready', pid: process.pid, backend: info.name, engine: await preferredEngineName() });
  } catch (error) {
    send({ type: 'start-failed', message: messageOf(error) });
    process.exitCode = 1;
    process.disconnect();
  }
}

async function getModel(request: BatchRequest, metadata: TrainedModelMetadata): Promise<[CachedModel, number]> {
  const cached = cache!.get(request.modelId, request.artifactDir);
  if (cached) return [cached, 0];
  const started = performance.now();
  const engine = await engineForArtifact(request.artifactDir, metadata);
  const loaded = await engine.load(request.artifactDir, metadata);
  const entry: CachedModel = { engine, loaded, bytes: loaded.bytes };
  cache!.set(request.modelId, request.artifactDir, entry);
  return [entry, performance.now() - started];
}

async function decodeAll(images: Uint8Array[], size: number): Promise<Array<DecodedImage | string>> {
  const settled = await Promise.allSettled(
    images.map((image) =>
      decodeImage(Buffer.from(image.buffer, image.byteOffset, image.byteLength), { size, limitInputPixels }),
    ),
  );
  return settled.map((result) => {
    if (result.status === 'fulfilled') return result.value;
    if (result.reason instanceof ImageDecodeError) return result.reason.reason;
    throw result.reason;
  });
}

async function runBatch(request: BatchRequest): Promise<void> {
  const { id, modelId, artifactDir } = request;
  let metadata: TrainedModelMetadata;
  try {
    metadata = cache!.peek(modelId, artifactDir)?.loaded.metadata ?? (await readTrainedModelMetadata(artifactDir));
  } catch (error) {
    send({ type: 'batch-result', id, ok: false, failure: 'model-load', message: messageOf(error), loadedModels: [] });
    return;
  }

  const decodeStarted = performance.now();
  let decoded: Array<DecodedImage | string>;
  try {
    decoded = await decodeAll(request.images, metadata.imageSize);
  } catch (error) {
    send({ type: 'batch-result', id, ok: false, failure: 'inference', message: messageOf(error), loadedModels: [] });
    return;
  }
  const decodeMs = performance.now() - decodeStarted;

  await inModelTurn(async () => {
    let model: CachedModel;
    let loadMs: number;
    try {
      [model, loadMs] = await getModel(request, metadata);
    } catch (error) {
      const message = messageOf(error);
      send({ type: 'batch-result', id, ok: false, failure: 'model-load', message, loadedModels: loadedModels() });
      return;
    }
    try {
      const good = decoded.filter((d): d is DecodedImage => typeof d !== 'string');
      const pixels = metadata.imageSize * metadata.imageSize * 3;
      const x = new Float32Array(good.length * pixels);
      good.forEach((image, i) => x.set(image.data, i * pixels));
      const runStarted = performance.now();
      const width = request.kind === 'predict' ? model.loaded.numClasses : model.loaded.featureDim;
      let values: Float32Array = new Float32Array(0);
      if (good.length > 0) {
        const output = await model.engine.run(model.loaded, x, good.length);
        values = request.kind === 'predict' ? output.probabilities : output.features;
      }
      send({
        type: 'batch-result',
        id,
        ok: true,
        errors: decoded.map((d) => (typeof d === 'string' ? d : null)),
        values,
        width,
        classes: metadata.classes,
        timings: { decodeMs, loadMs, runMs: performance.now() - runStarted },
        loadedModels: loadedModels(),
      });
    } catch (error) {
      const message = messageOf(error);
      send({ type: 'batch-result', id, ok: false, failure: 'inference', message, loadedModels: loadedModels() });
    }
  });
}

function evict(request: EvictRequest): Promise<void> {
  return inModelTurn(() => {
    const evicted = cache!.delete(request.modelId);
    send({ type: 'evict-result', id: request.id, evicted, loadedModels: loadedModels() });
  });
}

/** The wasm backend's heap, which grows with the largest batch seen and never shrinks. */
function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  // The Emscripten module of tfjs-backend-wasm 4.x keeps its WebAssembly.Memory as `wasmMemory`.
  const module = (tf.backend() as { wasm?: { wasmMemory?: { buffer: ArrayBuffer } } }).wasm;
  return module?.wasmMemory?.buffer.byteLength ?? null;
}

function memory(request: MemoryRequest): Promise<void> {
  return inModelTurn(() => {
    const { numTensors, numBytes } = tf.memory();
    send({
      type: 'memory-result',
      id: request.id,
      memory: {
        pid: process.pid,
        numTensors,
        numBytes,
        wasmHeapBytes: wasmHeapBytes(),
        loadedModels: loadedModels(),
        cacheBytes: cache!.bytes,
        rssBytes: process.memoryUsage.rss(),
      },
    });
  });
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'init') {
    initialized ??= init(message);
    return;
  }
  // The pool waits for 'ready' before sending work; this only guards against a reordering.
  void (initialized ?? Promise.resolve()).then(() => {
    switch (message.type) {
      case 'batch':
        return runBatch(message);
      case 'evict':
        return evict(message);
      case 'memory':
        return memory(message);
    }
  });
});

// The pool is gone (closed, or the api died): nothing will ever ask this process for work again.
process.on('disconnect', () => process.exit(process.exitCode ?? 0));
