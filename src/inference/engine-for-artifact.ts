import fs from 'node:fs';
import path from 'node:path';
import { isOnnxRuntimeAvailable } from '../onnx/onnx-engine.js';
import type { TrainedModelMetadata } from '../training/trained-model-metadata.js';
import type { InferenceEngine } from './inference-engine.js';
import { OnnxRuntimeEngine, onnxFileName } from './onnx-runtime-engine.js';
import { TfjsEngine } from './tfjs-engine.js';

/** The engine every artifact can run on: the tfjs layers model beside metadata.json. */
export const tfjsEngine = new TfjsEngine();
const onnxEngine = new OnnxRuntimeEngine();
let onnxAvailable: Promise<boolean> | undefined;

/** The engine preferred for artifacts that carry model.onnx: onnxruntime when it loads here, else tfjs. */
export async function preferredEngineName(): Promise<string> {
  return process.env.INFERENCE_ENGINE !== 'tfjs' && (await onnxRuntimeLoads()) ? onnxEngine.name : tfjsEngine.name;
}

function onnxRuntimeLoads(): Promise<boolean> {
  onnxAvailable ??= isOnnxRuntimeAvailable();
  return onnxAvailable;
}

/**
 * Chooses the engine for an artifact, inside an inference child: onnxruntime when the artifact holds
 * model.onnx and onnxruntime-node loads (it is an optional dependency), tfjs otherwise.
 * INFERENCE_ENGINE=tfjs forces tfjs.
 */
export async function engineForArtifact(
  artifactDir: string,
  _metadata: TrainedModelMetadata,
): Promise<InferenceEngine> {
  if (process.env.INFERENCE_ENGINE === 'tfjs') return tfjsEngine;
  if (!fs.existsSync(path.join(artifactDir, onnxFileName))) return tfjsEngine;
  return (await onnxRuntimeLoads()) ? onnxEngine : tfjsEngine;
}
