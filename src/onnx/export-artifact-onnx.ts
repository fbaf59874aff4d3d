import path from 'node:path';
import { writeFileAtomic } from '../fs/atomic-file.js';
import { loadTrainedModel } from '../training/trained-model.js';
import { exportToOnnx } from './onnx-exporter.js';

/**
 * Writes model.onnx beside a trained artifact's model.json (opset 13), so the model can be served by
 * onnxruntime and taken to Triton, TensorRT or any ONNX runtime. Returns the file's size.
 */
export async function exportArtifactToOnnx(artifactDir: string, opset = 13): Promise<number> {
  const { model } = await loadTrainedModel(artifactDir);
  try {
    const bytes = exportToOnnx(model, { opset, outputs: 'classifier' });
    await writeFileAtomic(path.join(artifactDir, 'model.onnx'), bytes);
    return bytes.byteLength;
  } finally {
    model.dispose();
  }
}
