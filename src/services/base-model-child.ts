/**
 * Entry of the short-lived process BaseModels forks to materialize one base model: it selects a tfjs backend,
 * writes the artifact (src/model/base-model-artifact.ts), answers, and exits, so the memory a B7 build takes
 * is returned to the system at once and the api's event loop never runs TensorFlow.
 */
import type { BackendPreference } from '../compute/backend.js';
import { selectBackend } from '../compute/backend.js';
import { writeBaseModelArtifact, type BaseModelSpec } from '../model/base-model-artifact.js';

export interface MaterializeRequest {
  type: 'materialize';
  spec: BaseModelSpec;
  outputDir: string;
  backend: BackendPreference;
}

export type MaterializeReply =
  | { type: 'materialized'; ok: true; bytes: number; onnxBytes: number; ms: number }
  | { type: 'materialized'; ok: false; message: string };

async function materialize(request: MaterializeRequest): Promise<MaterializeReply> {
  const started = performance.now();
  try {
    const info = await selectBackend(request.backend);
    const sizes = await writeBaseModelArtifact(request.spec, request.outputDir, info.name);
    return { type: 'materialized', ok: true, ...sizes, ms: performance.now() - started };
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 1000);
    return { type: 'materialized', ok: false, message };
  }
}

process.once('message', (request: MaterializeRequest) => {
  void materialize(request).then((reply) => {
    process.send!(reply, () => process.disconnect());
  });
});

// The parent went away: nobody is waiting for this model any more.
process.on('disconnect', () => process.exit(0));
