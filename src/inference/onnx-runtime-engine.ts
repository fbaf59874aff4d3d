import fs from 'node:fs/promises';
import path from 'node:path';
import { createOnnxSession, runOnnx, type OnnxSession } from '../onnx/onnx-engine.js';
import type { TrainedModelMetadata } from '../training/trained-model-metadata.js';
import type { EngineOutput, InferenceEngine, LoadedModel } from './inference-engine.js';

export const onnxFileName = 'model.onnx';

export interface OnnxLoadedModel extends LoadedModel {
  session: OnnxSession;
}

/** Runs an artifact's model.onnx with onnxruntime-node (about 9x tfjs wasm on CPU for B0). */
export class OnnxRuntimeEngine implements InferenceEngine<OnnxLoadedModel> {
  readonly name = 'onnxruntime';

  async load(artifactDir: string, metadata: TrainedModelMetadata): Promise<OnnxLoadedModel> {
    const file = path.join(artifactDir, onnxFileName);
    const { size } = await fs.stat(file);
    const session = await createOnnxSession(file);
    // A model whose metadata lists no classes (a features-only base model) is exported without them.
    if (!session.hasClassifier && metadata.classes.length > 0) {
      await session.release();
      throw new Error(`${file} has no probabilities output`);
    }
    return {
      session,
      metadata,
      numClasses: metadata.classes.length,
      featureDim: metadata.featureDim,
      bytes: size,
    };
  }

  async run(loaded: OnnxLoadedModel, x: Float32Array, n: number): Promise<EngineOutput> {
    const output = await runOnnx(loaded.session, x, n, loaded.metadata.imageSize);
    return { probabilities: output.probabilities ?? new Float32Array(0), features: output.features };
  }

  dispose(loaded: OnnxLoadedModel): void {
    void loaded.session.release();
  }
}
