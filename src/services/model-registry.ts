import fsp from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError } from '../errors/domain-error.js';
import type { Model } from '../schemas/models.js';
import type { TrainedModelMetadata } from '../training/trained-model-metadata.js';
import { BaseModels, ClassifierMissingError } from './base-models.js';
import type { FileStorage } from './file-storage.js';

/** Written beside the trainer's artifact when a job registers its model. */
export interface ModelRegistration {
  id: string;
  /** Absent in registrations written before base models existed: 'trained'. */
  source?: 'trained' | 'base';
  /** null for base models. */
  jobId: string | null;
  datasetId: string | null;
  createdAt: string;
}

export const registrationFileName = 'registration.json';

/**
 * Finished models under DATA_DIR/models/<id>/: the trainer's artifact (model.json, weights, metadata.json,
 * model.onnx when exported) plus registration.json. A model directory appears in one rename, complete.
 * With `baseModels`, the ImageNet base models of WEIGHTS_DIR are models too: listed, and materialized into
 * the same layout by get(), so everything that goes through get() and dir() serves them unchanged.
 */
export class ModelRegistry {
  constructor(
    private readonly storage: FileStorage,
    private readonly baseModels?: BaseModels,
  ) {}

  /** Moves a finished artifact directory (under DATA_DIR/tmp) into the registry. */
  async register(artifactDir: string, registration: ModelRegistration): Promise<void> {
    await fsp.writeFile(path.join(artifactDir, registrationFileName), JSON.stringify(registration, null, 2));
    await this.storage.commitDirectory(artifactDir, `models/${registration.id}`);
  }

  /** Trained models newest first, then the base models of WEIGHTS_DIR (B0 first). */
  async list(): Promise<Model[]> {
    const ids = await this.storage.list('models');
    // Base model directories are listed from WEIGHTS_DIR instead, which says whether they still exist.
    const trainedIds = this.baseModels ? ids.filter((id) => !BaseModels.isBaseModelId(id)) : ids;
    const models = await Promise.all(trainedIds.map((id) => this.find(id).catch(() => undefined)));
    const trained = models
      .filter((m): m is Model => m !== undefined)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return [...trained, ...((await this.baseModels?.list()) ?? [])];
  }

  /** The model; a base model is materialized first (seconds on its first use, see base-models.ts). */
  async get(id: string): Promise<Model> {
    const model = this.baseModels && BaseModels.isBaseModelId(id) ? await this.baseModels.get(id) : await this.find(id);
    if (!model) throw new NotFoundError('model', id);
    return model;
  }

  /** For /predict: throws ClassifierMissingError (409) for a model without classes (a notop base model). */
  async requireClassifier(model: Model): Promise<void> {
    if (model.classes.length > 0) return;
    if (this.baseModels) await this.baseModels.requireClassifier(model);
    throw new ClassifierMissingError(model.id);
  }

  dir(id: string): string {
    return this.storage.resolve(`models/${id}`);
  }

  async delete(id: string): Promise<void> {
    if (this.baseModels && BaseModels.isBaseModelId(id)) await this.baseModels.refuseDelete(id);
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
      source: registration.source ?? 'trained',
      jobId: registration.jobId ?? null,
      datasetId: registration.datasetId ?? null,
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
