import { DomainError } from '../errors/domain-error.js';
import { isWasmRuntimeError } from './memory-estimate.js';

/** The run was cancelled through its AbortSignal; nothing was saved after the last checkpoint. */
export class TrainingCancelledError extends Error {
  constructor(readonly phase?: string) {
    super(phase ? `Training cancelled during the ${phase} phase` : 'Training cancelled');
    this.name = 'TrainingCancelledError';
  }
}

/**
 * The run was asked to stop and saved a checkpoint at a batch boundary first; `resume: true` continues it
 * exactly where it stopped.
 */
export class TrainingInterruptedError extends Error {
  constructor(
    readonly workDir: string,
    readonly phase: string,
    readonly epoch: number,
    readonly batch: number,
  ) {
    super(
      `Training interrupted in the ${phase} phase at epoch ${epoch}, batch ${batch}; ` +
        `checkpoint saved in ${workDir}, resume to continue`,
    );
    this.name = 'TrainingInterruptedError';
  }
}

/** ImageNet weights were asked for but WEIGHTS_DIR does not hold the file. */
export class ImagenetWeightsMissingError extends DomainError {
  constructor(
    readonly file: string,
    readonly weightsDir: string,
  ) {
    super(
      422,
      'Weights Missing',
      `weights 'imagenet' needs ${file}, which is not in WEIGHTS_DIR (${weightsDir}); download it from ` +
        `https://storage.googleapis.com/keras-applications/${file} into that folder, or train with weights 'none'`,
      { file, weightsDir },
    );
  }
}

/** resume: the checkpoint in workDir belongs to another configuration or dataset. */
export class CheckpointMismatchError extends DomainError {
  constructor(
    readonly workDir: string,
    detail: string,
  ) {
    super(409, 'Checkpoint Mismatch', `Cannot resume from ${workDir}: ${detail}`, { workDir });
  }
}

/** A checkpoint file is missing, truncated or does not fit the model. */
export class CheckpointCorruptError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`Checkpoint ${file} is unusable: ${detail}`);
    this.name = 'CheckpointCorruptError';
  }
}

/** The loss became NaN or infinite: the learning rate is too high for this model and data. */
export class TrainingDivergedError extends DomainError {
  constructor(
    readonly phase: string,
    readonly epoch: number,
    readonly batch: number,
    readonly learningRate: number,
  ) {
    super(
      422,
      'Training Diverged',
      `The ${phase} loss became NaN/infinite at epoch ${epoch}, batch ${batch} with learning rate ${learningRate}; ` +
        'lower the learning rate',
      { phase, epoch, batch, learningRate },
    );
  }
}

/**
 * The backend ran out of memory and the step cannot be retried in this process. On wasm a failed
 * allocation aborts the module: the 4 GiB heap stays full and every later allocation fails, so the
 * process (e.g. a sandboxed worker child) must exit before training anything else.
 */
export class OutOfMemoryError extends DomainError {
  readonly processUnusable: boolean;

  constructor(
    readonly backend: string,
    readonly batchSize: number,
    readonly imageSize: number,
    cause: unknown,
  ) {
    super(
      422,
      'Out Of Memory',
      `The ${backend} backend ran out of memory training at batch size ${batchSize} and image size ${imageSize}` +
        `${backend === 'wasm' ? ' (the wasm32 heap is limited to 4 GiB)' : ''}; use batchSize 'auto', a smaller ` +
        `batchSize or a smaller imageSize (${String(cause).slice(0, 200)})`,
      { backend, batchSize, imageSize },
    );
    this.processUnusable = isWasmRuntimeError(cause);
  }
}

/** The artifact directory is not a model this service wrote. */
export class TrainedModelFormatError extends Error {
  constructor(
    readonly dir: string,
    detail: string,
  ) {
    super(`${dir} is not a trained effnet-tl model: ${detail}`);
    this.name = 'TrainedModelFormatError';
  }
}
