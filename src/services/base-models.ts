import { fork } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendPreference } from '../compute/backend.js';
import { ConflictError, DomainError } from '../errors/domain-error.js';
import type { BaseModelRegistration, BaseModelSpec, BaseModelWeightsFile } from '../model/base-model-artifact.js';
import { architectures, type ArchitectureSpec } from '../model/architectures.js';
import { imagenetClassNames } from '../model/imagenet-classes.js';
import { publishedWeightsFor } from '../model/weights/published-weights.js';
import type { Model } from '../schemas/models.js';
import type { MaterializeReply, MaterializeRequest } from './base-model-child.js';
import type { FileStorage } from './file-storage.js';

/**
 * Base models: every architecture whose Keras ImageNet weights sit in WEIGHTS_DIR is a ready model,
 * `efficientnet-b0-imagenet`, with /features (avg_pool) and, when the with-top `efficientnetb0.h5` is there,
 * /predict over the 1000 ImageNet classes. Listing only reads WEIGHTS_DIR's file sizes and times. The first
 * use materializes the model into an ordinary artifact under DATA_DIR/models/<id>/ in a short-lived child
 * process (see base-model-child.ts), keyed by the weights file's name, size and mtime and the image size, so
 * a replaced weights file is rebuilt on its next use and an unchanged one never again.
 */

export interface BaseModelsOptions {
  weightsDir: string;
  /** WEIGHTS_VERIFY: check files against Keras' published md5. */
  verify: boolean;
  /** BASE_MODEL_IMAGE_SIZE; undefined: each architecture's Keras default (224 for B0). */
  imageSize?: number;
  /** TF_BACKEND of the materializing process. */
  backend: BackendPreference;
  /** Called after a base model's artifact was rebuilt over an older one (drop it from inference caches). */
  onReplaced?: (id: string) => void | Promise<void>;
  log?: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

const idSuffix = '-imagenet';
const fingerprintVersion = 1;

// Same extension as this file: the .ts entry under tsx (the child inherits `--import tsx`), .js when built.
const thisFile = fileURLToPath(import.meta.url);
const childFile = path.join(path.dirname(thisFile), `base-model-child${path.extname(thisFile)}`);

/** A base model comes from WEIGHTS_DIR, so the API cannot delete it. HTTP 409. */
export class BaseModelDeleteError extends ConflictError {
  constructor(id: string, fileName: string) {
    super(`'${id}' is a base model built from ${fileName} in WEIGHTS_DIR; remove that file to remove the model`, {
      id,
      weightsFile: fileName,
    });
  }
}

/** A base model without with-top weights has no classifier. HTTP 409: the model exists, /predict cannot run. */
export class ClassifierMissingError extends DomainError {
  constructor(id: string, expectedFile?: string) {
    super(
      409,
      'Classifier Missing',
      expectedFile
        ? `'${id}' has no ImageNet classifier: put Keras' with-top weights ${expectedFile} in WEIGHTS_DIR for ` +
            '/predict; /features works without them'
        : `model '${id}' has no classifier; use /features`,
      { id, ...(expectedFile ? { expectedFile } : {}) },
    );
  }
}

/** The weights file is there but no model could be built from it (corrupt, wrong md5, wrong layout). HTTP 500. */
export class BaseModelBuildError extends DomainError {
  constructor(id: string, fileName: string, reason: string) {
    super(500, 'Base Model Unavailable', `base model '${id}' could not be built from ${fileName}: ${reason}`, {
      id,
      weightsFile: fileName,
    });
  }
}

export class BaseModels {
  private readonly building = new Map<string, Promise<void>>();
  /** The last failed build of each model, kept until its weights file changes (a new fingerprint). */
  private readonly failed = new Map<string, { fingerprint: string; error: BaseModelBuildError }>();

  constructor(
    private readonly storage: FileStorage,
    private readonly options: BaseModelsOptions,
  ) {}

  /** True for ids of the form `efficientnet-bN-imagenet`, whether or not the weights are present. */
  static isBaseModelId(id: string): boolean {
    return architectureOf(id) !== undefined;
  }

  /** Base models whose weights are in WEIGHTS_DIR, B0 first. Cheap: stats files, builds nothing. */
  async list(): Promise<Model[]> {
    const specs = await Promise.all(architectures.map((arch) => this.specFor(arch)));
    return specs.filter((s): s is BaseModelSpec => s !== undefined).map(describe);
  }

  /** The base model `id` (materialized, ready to serve), or undefined when its weights are not in WEIGHTS_DIR. */
  async get(id: string): Promise<Model | undefined> {
    const spec = await this.find(id);
    if (!spec) return undefined;
    await this.materialize(spec);
    return describe(spec);
  }

  /** Refuses, with the reason, to delete a base model; a no-op for other ids. */
  async refuseDelete(id: string): Promise<void> {
    const spec = await this.find(id);
    if (spec) throw new BaseModelDeleteError(id, spec.weights.fileName);
  }

  /** For /predict: a ClassifierMissingError naming the with-top file when the base model lacks it. */
  async requireClassifier(model: Model): Promise<void> {
    if (model.classes.length > 0) return;
    const arch = architectureOf(model.id);
    throw new ClassifierMissingError(model.id, arch ? publishedWeightsFor(arch.name, true)!.fileName : undefined);
  }

  private async find(id: string): Promise<BaseModelSpec | undefined> {
    const arch = architectureOf(id);
    return arch ? this.specFor(arch) : undefined;
  }

  private async specFor(arch: ArchitectureSpec): Promise<BaseModelSpec | undefined> {
    const weights = (await this.weightsFile(arch, true)) ?? (await this.weightsFile(arch, false));
    if (!weights) return undefined;
    const imageSize = this.options.imageSize ?? arch.defaultImageSize;
    return {
      id: `${arch.name}${idSuffix}`,
      architecture: arch.name,
      imageSize,
      weights,
      verify: this.options.verify,
      fingerprint: [weights.fileName, weights.size, Math.trunc(weights.mtimeMs), imageSize, fingerprintVersion].join(
        ':',
      ),
      createdAt: new Date(weights.mtimeMs).toISOString(),
    };
  }

  private async weightsFile(arch: ArchitectureSpec, includeTop: boolean): Promise<BaseModelWeightsFile | undefined> {
    const { fileName } = publishedWeightsFor(arch.name, includeTop)!;
    const file = path.join(this.options.weightsDir, fileName);
    try {
      const info = await fsp.stat(file);
      return info.isFile() ? { path: file, fileName, includeTop, size: info.size, mtimeMs: info.mtimeMs } : undefined;
    } catch (error) {
      // No WEIGHTS_DIR (or not a directory): no base models.
      if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw error;
    }
  }

  /** Builds the artifact unless DATA_DIR already holds one with this fingerprint; one build per model at once. */
  private async materialize(spec: BaseModelSpec): Promise<void> {
    const known = this.failed.get(spec.id);
    if (known?.fingerprint === spec.fingerprint) throw known.error;
    const key = `${spec.id}\0${spec.fingerprint}`;
    let build = this.building.get(key);
    if (!build) {
      build = this.buildUnlessCurrent(spec).finally(() => this.building.delete(key));
      this.building.set(key, build);
    }
    await build;
  }

  private async buildUnlessCurrent(spec: BaseModelSpec): Promise<void> {
    const registration = await this.storage
      .readJson<BaseModelRegistration>(`models/${spec.id}/registration.json`)
      .catch(() => undefined);
    if (
      registration?.fingerprint === spec.fingerprint &&
      (await this.storage.exists(`models/${spec.id}/metadata.json`))
    ) {
      return;
    }
    const started = performance.now();
    const reply = await this.runChild({
      type: 'materialize',
      spec,
      outputDir: this.storage.resolve(`models/${spec.id}`),
      backend: this.options.backend,
    });
    if (!reply.ok) {
      // Keep server paths out of the answer: the file name says enough.
      const reason = reply.message.replaceAll(this.options.weightsDir + path.sep, '');
      const error = new BaseModelBuildError(spec.id, spec.weights.fileName, reason);
      this.failed.set(spec.id, { fingerprint: spec.fingerprint, error });
      this.options.log?.error({ id: spec.id, err: reply.message }, 'base model could not be built');
      throw error;
    }
    this.failed.delete(spec.id);
    this.options.log?.info(
      { id: spec.id, weightsFile: spec.weights.fileName, ms: Math.round(performance.now() - started) },
      `base model ${spec.id} materialized`,
    );
    if (registration) await this.options.onReplaced?.(spec.id);
  }

  private runChild(request: MaterializeRequest): Promise<MaterializeReply> {
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = fork(childFile, [], {
      serialization: 'advanced',
      execArgv: process.execArgv.filter((flag) => !/^--(inspect|debug|test|watch|experimental-test)/.test(flag)),
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve) => {
      let reply: MaterializeReply | undefined;
      child.once('message', (message: MaterializeReply) => (reply = message));
      child.once('error', (error) => (reply ??= { type: 'materialized', ok: false, message: error.message }));
      child.once('exit', (code, signal) => {
        resolve(reply ?? { type: 'materialized', ok: false, message: `the build process exited (${signal ?? code})` });
      });
      child.send(request);
    });
  }
}

function architectureOf(id: string): ArchitectureSpec | undefined {
  if (!id.endsWith(idSuffix)) return undefined;
  const name = id.slice(0, -idSuffix.length);
  return architectures.find((a) => a.name === name);
}

function describe(spec: BaseModelSpec): Model {
  const arch = architectures.find((a) => a.name === spec.architecture)!;
  return {
    id: spec.id,
    source: 'base',
    jobId: null,
    datasetId: null,
    architecture: spec.architecture,
    imageSize: spec.imageSize,
    classes: spec.weights.includeTop ? imagenetClassNames() : [],
    featureDim: arch.featureDim,
    metrics: { valAccuracy: null, valLoss: null, top5Accuracy: null, perClass: [], confusionMatrix: [] },
    formats: ['tfjs', 'onnx'],
    createdAt: spec.createdAt,
  };
}
