import path from 'node:path';
import { parseArgs } from 'node:util';
import { backendPreferences, type BackendPreference } from '../compute/backend.js';
import { getArchitecture, UnknownArchitectureError } from '../model/architectures.js';
import { TrainingConfigError, type TrainingConfig } from '../schemas/training-config.js';
import { resolveTrainingConfig, type ResolvedTrainingConfig } from '../schemas/training-config.js';
import { CliUsageError } from './cli-errors.js';
import { parseChoice, parseInteger, parseNumber } from './cli-values.js';

/** `effnet-tl train` flags, mapped onto the TrainingConfig schema (which validates ranges and fills defaults). */

export const trainUsage = `Usage: effnet-tl train <dataset-dir> --out <model-dir> [options]

Trains an EfficientNet classifier on a folder of images (one sub-folder per class, or train/ + val/).

Model and data:
  --arch <b0..b7>            EfficientNet variant (default b0)
  --image-size <px>          input size, 32..600 (default: the variant's, 224 for b0)
  --weights <imagenet|none>  start from ImageNet weights (default) or random init
  --weights-dir <dir>        folder of efficientnetb{N}_notop.h5 (default $WEIGHTS_DIR or ./weights)
  --no-weights-verify        skip the md5 check of the .h5 file
  --val-split <0..0.9>       validation share when there is no val/ folder (default 0.2)
  --seed <int>               seed for init, split, shuffling, augmentation, dropout (default 42)
  --no-augment               no flip/rotation/translation/contrast augmentation

Phases:
  --head-epochs <n>          phase 1 epochs, base frozen (default 3)
  --finetune-epochs <n>      phase 2 epochs, base unfrozen (default 0: head only)
  --head-lr <lr>             phase 1 Adam learning rate (default 1e-3)
  --finetune-lr <lr>         phase 2 learning rate (default 1e-5 with imagenet, 3e-3 with none)
  --batch-size <n|auto>      batch size of both phases (default auto)
  --bn-mode <inference|train>  BatchNormalization mode of both phases (default: inference with imagenet, train with none)
  --unfreeze <all|blockNx>   phase 2 unfreezes everything or from this block on (default all)
  --patience <n>             early-stopping patience in epochs (default 3)
  --no-early-stopping        train every phase-2 epoch

Run:
  --out <dir>                where the trained model goes (required)
  --work-dir <dir>           checkpoints (default <out>-checkpoint)
  --resume                   continue from the checkpoint in the work dir
  --keep-checkpoint          keep the work dir after success
  --backend <auto|wasm|cpu>  tfjs backend (default auto)

Ctrl-C saves a checkpoint at the next batch and exits; run again with --resume to continue.`;

export interface TrainCommandOptions {
  datasetDir: string;
  outputDir: string;
  workDir: string;
  weightsDir: string;
  weightsVerify: boolean;
  resume: boolean;
  keepCheckpoint: boolean;
  backend: BackendPreference;
  config: ResolvedTrainingConfig;
}

const flagOfPath: Record<string, string> = {
  '/architecture': '--arch',
  '/imageSize': '--image-size',
  '/weights': '--weights',
  '/validationSplit': '--val-split',
  '/seed': '--seed',
  '/head/epochs': '--head-epochs',
  '/head/learningRate': '--head-lr',
  '/head/batchSize': '--batch-size',
  '/head/bnMode': '--bn-mode',
  '/finetune/epochs': '--finetune-epochs',
  '/finetune/learningRate': '--finetune-lr',
  '/finetune/batchSize': '--batch-size',
  '/finetune/bnMode': '--bn-mode',
  '/finetune/unfreeze': '--unfreeze',
  '/finetune/earlyStopping/patience': '--patience',
};

export function parseTrainArgs(args: string[], env: NodeJS.ProcessEnv = process.env): TrainCommandOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        arch: { type: 'string' },
        'image-size': { type: 'string' },
        weights: { type: 'string' },
        'weights-dir': { type: 'string' },
        'no-weights-verify': { type: 'boolean' },
        'val-split': { type: 'string' },
        seed: { type: 'string' },
        'no-augment': { type: 'boolean' },
        'head-epochs': { type: 'string' },
        'finetune-epochs': { type: 'string' },
        'head-lr': { type: 'string' },
        'finetune-lr': { type: 'string' },
        'batch-size': { type: 'string' },
        'bn-mode': { type: 'string' },
        unfreeze: { type: 'string' },
        patience: { type: 'string' },
        'no-early-stopping': { type: 'boolean' },
        out: { type: 'string' },
        'work-dir': { type: 'string' },
        resume: { type: 'boolean' },
        'keep-checkpoint': { type: 'boolean' },
        backend: { type: 'string' },
      },
    });
  } catch (error) {
    throw new CliUsageError((error as Error).message, 'train');
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    throw new CliUsageError(
      positionals.length === 0 ? 'missing <dataset-dir>' : `expected one <dataset-dir>, got ${positionals.join(' ')}`,
      'train',
    );
  }
  if (!values.out) throw new CliUsageError('missing --out <model-dir>', 'train');

  let architecture: string;
  try {
    architecture = getArchitecture(values.arch ?? 'b0').name;
  } catch (error) {
    if (error instanceof UnknownArchitectureError) throw new CliUsageError(`--arch: ${error.message}`, 'train');
    throw error;
  }
  const batchSize =
    values['batch-size'] === undefined || values['batch-size'] === 'auto'
      ? undefined
      : parseInteger('batch-size', values['batch-size'], 1, 1024);
  const bnMode = values['bn-mode']
    ? parseChoice('bn-mode', values['bn-mode'], ['inference', 'train'] as const)
    : undefined;
  const finetuneEpochs = values['finetune-epochs']
    ? parseInteger('finetune-epochs', values['finetune-epochs'], 0, 1000)
    : 0;

  const raw: TrainingConfig = {
    architecture: architecture as TrainingConfig['architecture'],
    ...(values.weights ? { weights: parseChoice('weights', values.weights, ['imagenet', 'none'] as const) } : {}),
    ...(values['image-size'] ? { imageSize: parseInteger('image-size', values['image-size'], 1, 100000) } : {}),
    ...(values['val-split']
      ? { validationSplit: parseNumber('val-split', values['val-split'], { min: 0, max: 0.9 }) }
      : {}),
    ...(values.seed ? { seed: parseInteger('seed', values.seed, 0, 2 ** 31 - 1) } : {}),
    ...(values['no-augment'] ? { augmentation: false as const } : {}),
    head: {
      epochs: values['head-epochs'] ? parseInteger('head-epochs', values['head-epochs'], 0, 1000) : 3,
      ...(values['head-lr']
        ? { learningRate: parseNumber('head-lr', values['head-lr'], { min: 0, max: 1, exclusiveMin: true }) }
        : {}),
      ...(batchSize ? { batchSize } : {}),
      ...(bnMode ? { bnMode } : {}),
    },
    finetune:
      finetuneEpochs > 0
        ? {
            epochs: finetuneEpochs,
            ...(values['finetune-lr']
              ? {
                  learningRate: parseNumber('finetune-lr', values['finetune-lr'], {
                    min: 0,
                    max: 1,
                    exclusiveMin: true,
                  }),
                }
              : {}),
            ...(batchSize ? { batchSize } : {}),
            ...(bnMode ? { bnMode } : {}),
            ...(values.unfreeze ? { unfreeze: values.unfreeze } : {}),
            earlyStopping: values['no-early-stopping']
              ? false
              : values.patience
                ? { patience: parseInteger('patience', values.patience, 0, 1000) }
                : {},
          }
        : false,
  };
  let config: ResolvedTrainingConfig;
  try {
    config = resolveTrainingConfig(raw);
  } catch (error) {
    if (error instanceof TrainingConfigError) {
      const problems = error.problems.map((p) => {
        const [where, ...rest] = p.split(': ');
        return flagOfPath[where!] ? `${flagOfPath[where!]}: ${rest.join(': ')}` : p;
      });
      throw new CliUsageError(problems.join('; '), 'train');
    }
    throw error;
  }

  const outputDir = path.resolve(values.out);
  return {
    datasetDir: path.resolve(positionals[0]!),
    outputDir,
    workDir: path.resolve(values['work-dir'] ?? `${outputDir}-checkpoint`),
    weightsDir: path.resolve(values['weights-dir'] ?? env.WEIGHTS_DIR ?? 'weights'),
    weightsVerify: !values['no-weights-verify'],
    resume: values.resume ?? false,
    keepCheckpoint: values['keep-checkpoint'] ?? false,
    backend: values.backend ? parseChoice('backend', values.backend, backendPreferences) : 'auto',
    config,
  };
}
