import type { TrainedModelMetadata } from '../training/trained-model-metadata.js';

/**
 * What runs a loaded model inside an inference child. The tfjs engine (tfjs-engine.ts) is the default; an
 * ONNX Runtime engine can be chosen per artifact (e.g. when `model.onnx` exists and onnxruntime-node loads).
 * Engines never decode images: they get the pixels exactly as training fed them.
 */
export interface LoadedModel {
  metadata: TrainedModelMetadata;
  /** Width of a probabilities row (metadata.classes.length). */
  numClasses: number;
  /** Width of a features row (1280 for B0). */
  featureDim: number;
  /** Estimated resident bytes (weights), what the child's LRU cache is bounded by. */
  bytes: number;
}

export interface EngineOutput {
  /** n × numClasses softmax probabilities, row-major. */
  probabilities: Float32Array;
  /** n × featureDim avg_pool features, row-major. */
  features: Float32Array;
}

export interface InferenceEngine<M extends LoadedModel = LoadedModel> {
  /** Short name reported in stats (e.g. 'tfjs', 'onnxruntime'). */
  readonly name: string;
  load(artifactDir: string, metadata: TrainedModelMetadata): Promise<M>;
  /**
   * `x` is n × imageSize × imageSize × 3 float RGB in 0..255 (NHWC), as decodeImage produces and training
   * used. Must free everything it allocates before resolving.
   */
  run(model: M, x: Float32Array, n: number): Promise<EngineOutput>;
  /** Frees the model's memory; called once, when the cache drops it. */
  dispose(model: M): void;
}
