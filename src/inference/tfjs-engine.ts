import { tf, type LayersModel, type Tensor } from '../compute/tf.js';
import { foldedInferenceModel, type FoldedInferenceGraph } from '../model/batch-norm-folding.js';
import { loadTrainedModel } from '../training/trained-model.js';
import type { TrainedModelMetadata } from '../training/trained-model-metadata.js';
import type { EngineOutput, InferenceEngine, LoadedModel } from './inference-engine.js';

export interface TfjsLoadedModel extends LoadedModel {
  /** Owns the weights: the one thing to dispose. */
  model: LayersModel;
  /**
   * Outputs [probabilities, avg_pool features] from one forward pass: `model`'s graph with its
   * BatchNormalizations folded into the convolutions before them (sharing every other layer with `model`).
   */
  both: LayersModel;
  /** Owns the folded convolutions' weights. */
  folded: FoldedInferenceGraph;
}

/** Runs the tfjs layers artifact on whatever backend selectBackend() chose in this process. */
export class TfjsEngine implements InferenceEngine<TfjsLoadedModel> {
  readonly name = 'tfjs';

  async load(artifactDir: string, _metadata: TrainedModelMetadata): Promise<TfjsLoadedModel> {
    // loadTrainedModel re-reads metadata.json and checks it against the graph; the copy the child passed is
    // the same file, read a moment earlier.
    const { model, features, metadata } = await loadTrainedModel(artifactDir);
    // A features-only model (no classes) has one output, the features: `both` then outputs only that.
    const classifier = metadata.classes.length > 0;
    const outputs = classifier ? [model.outputs[0]!, features.outputs[0]!] : [features.outputs[0]!];
    const { model: both, graph: folded } = foldedInferenceModel(model, outputs);
    return {
      model,
      both,
      folded,
      metadata,
      numClasses: metadata.classes.length,
      featureDim: features.outputs[0]!.shape[1]!,
      bytes: model.countParams() * Float32Array.BYTES_PER_ELEMENT,
    };
  }

  async run(loaded: TfjsLoadedModel, x: Float32Array, n: number): Promise<EngineOutput> {
    const size = loaded.metadata.imageSize;
    return tf.tidy(() => {
      const input = tf.tensor4d(x, [n, size, size, 3]);
      if (loaded.numClasses === 0) {
        const features = loaded.both.predict(input) as Tensor;
        return { probabilities: new Float32Array(0), features: features.dataSync() as Float32Array };
      }
      const [probabilities, features] = loaded.both.predict(input) as Tensor[];
      return {
        probabilities: probabilities!.dataSync() as Float32Array,
        features: features!.dataSync() as Float32Array,
      };
    });
  }

  dispose(loaded: TfjsLoadedModel): void {
    // `both` and the feature extractor own nothing but the folded weights; disposing them would free the
    // shared weights twice.
    loaded.folded.dispose();
    loaded.model.dispose();
  }
}
