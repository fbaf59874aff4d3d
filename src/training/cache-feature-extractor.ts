import type { LayersModel } from '../compute/tf.js';
import { foldedInferenceModel } from '../model/batch-norm-folding.js';
import { createOnnxSession, isOnnxRuntimeAvailable, runOnnx } from '../onnx/onnx-engine.js';
import { exportToOnnx } from '../onnx/onnx-exporter.js';
import { extractFeatures } from './training-steps.js';

/** Computes avg_pool features for a batch of images (n × size × size × 3 RGB 0..255). */
export interface BatchFeatureExtractor {
  engine: 'onnxruntime' | 'tfjs';
  extract(x: Float32Array, n: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * The extractor that fills the phase-1 feature cache. The frozen base is exported to ONNX in memory and run
 * with onnxruntime when it loads (about 10x tfjs wasm on CPU; outputs agree to ~1e-6 relative), and with
 * tfjs otherwise or when `engine` is 'tfjs'. Head training itself always runs on tfjs.
 */
export async function createCacheFeatureExtractor(
  extractor: LayersModel,
  imageSize: number,
  engine: 'auto' | 'tfjs' = 'auto',
  onFallback?: (reason: string) => void,
): Promise<BatchFeatureExtractor> {
  const tfjsExtractor = (): BatchFeatureExtractor => {
    // The base is frozen while the cache fills, so BatchNormalization can be folded into its convolutions.
    const { model, graph } = foldedInferenceModel(extractor);
    return {
      engine: 'tfjs',
      extract: async (x, n) => extractFeatures(model, x, n, imageSize),
      release: async () => graph.dispose(),
    };
  };
  if (engine === 'tfjs' || !(await isOnnxRuntimeAvailable())) return tfjsExtractor();
  try {
    const session = await createOnnxSession(exportToOnnx(extractor, { outputs: 'features-only' }));
    return {
      engine: 'onnxruntime',
      extract: async (x, n) => (await runOnnx(session, x, n, imageSize)).features,
      release: () => session.release(),
    };
  } catch (error) {
    onFallback?.(error instanceof Error ? error.message : String(error));
    return tfjsExtractor();
  }
}
