import fsp from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError } from '../errors/domain-error.js';
import type { Model } from '../schemas/models.js';
import type { TrainedModelMetadata } from '../training/trained-model-metadata.js';
import type { FileStorage } from './file-storage.js';

/** Written beside the trainer's artifact when a job registers its model. */
export interface ModelRegistration {
  id: string;
  jobId: string;
  datasetId: string;
  createdAt: string;
}

export const registrationFileName = 'registration.json';

/**
 * Finished models under DATA_DIR/models/<id>/: the trainer's artifact (model.json, weights, metadata.json,
 * model.onnx when exported) plus registration.json. A model directory appears in one rename, complete.
 */
export class ModelRegistry {
  constructor(private readonly storage: FileStorage) {}

  /** Moves a finished artifact directory (under DATA_DIR/tmp) into the registry. */
  async register(artifactDir: string, registration: ModelRegistration): Promise<void> {
    await fsp.writeFile(path.join(artifactDir, registrationFileName), JSON.stringify(registration, null, 2));
    await this.storage.commitDirectory(artifactDir, `models/${registration.id}`);
  }

  async list(): Promise<Model[]> {
    const ids = await this.storage.list('models');
    const models = await Promise.all(ids.map((id) => this.find(id).catch(() => undefined)));
    return models.filter((m): m is Model => m !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async get(id: string): Promise<Model> {
    const model = await this.find(id);
    if (!model) throw new NotFoundError('model', id);
    return model;
  }

  dir(id: string): string {
    return this.storage.resolve(`models/${id}`);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    const doomed = this.storage.tempPath(`deleted-${id}`);
    await fsp.rename(this.dir(id), doomed);
    await fsp.rm(doomed, { recursive: true, force: true });
  }

  private async find(id: string): Promise<Model | undefined> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return undefined;
    let registration: ModelRegistration;
    let metadata: TrainedModelMetadata;
    try {
      registration = await this.storage.readJson<ModelRegistration>(`models/${id}/${registrationFileName}`);
      metadata = await this.storage.readJson<TrainedModelMetadata>(`models/${id}/metadata.json`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const evaluation = metadata.evaluation;
    return {
      id: registration.id,
      jobId: registration.jobId,
      datasetId: registration.datasetId,
      architecture: metadata.architecture,
      imageSize: metadata.imageSize,
      classes: metadata.classes,
      featureDim: metadata.featureDim,
      metrics: {
        valAccuracy: evaluation?.accuracy ?? null,
        valLoss: evaluation?.loss ?? null,
        top5Accuracy: evaluation?.top5Accuracy ?? null,
        perClass: (evaluation?.perClass ?? []).map((c) => ({
          label: c.name,
          precision: c.precision,
          recall: c.recall,
          f1: c.f1,
          support: c.support,
        })),
        confusionMatrix: evaluation?.confusionMatrix ?? [],
      },
      formats: (await this.storage.exists(`models/${id}/model.onnx`)) ? ['tfjs', 'onnx'] : ['tfjs'],
      createdAt: registration.createdAt,
    };
  }
}
