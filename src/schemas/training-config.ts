import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DomainError } from '../errors/domain-error.js';
import { architectureNames, getArchitecture, type ArchitectureName } from '../model/architectures.js';
import { efficientNetLayout } from '../model/efficientnet-blocks.js';
import { publishedWeightsFor } from '../model/weights/published-weights.js';

/**
 * The training configuration: one TypeBox schema that the HTTP route (`POST /v1/jobs`, composed with
 * `datasetId`), the CLI flags and the trainer share, and resolveTrainingConfig(), which fills every default.
 *
 * Defaults that depend on `weights` (why they differ):
 * - With ImageNet weights the base already computes good features, so BN stays in 'inference' mode (the
 *   Keras transfer-learning guide) and fine-tuning uses a tiny learning rate (1e-5) so it only nudges them.
 * - From random init ('none') there is nothing to preserve: with BN in inference mode the untrained
 *   network's activations shrink about 10x per stage (avg_pool is ~1e-6 at init, measured on B0), so the
 *   head sees constant features and learns nothing. BN therefore defaults to 'train' (batch statistics) in
 *   both phases, and fine-tuning defaults to 3e-3: at 1e-5 a random B0 learns nothing in a realistic number
 *   of epochs, and even Adam's usual 1e-3 was too slow. Measured on B0 at 32 px, 3 classes × 40 coloured
 *   shapes, batch 16, 12 epochs: 1e-3 reached 0.67 validation accuracy, 3e-3 1.0 (three seeds, 0.92–1.0),
 *   3e-4 0.63.
 */

const description = (text: string) => ({ description: text });

export const ArchitectureSchema = Type.Union(
  architectureNames.map((name) => Type.Literal(name)),
  description('EfficientNet variant, as in keras.applications (EfficientNetB0..B7)'),
);

export const WeightsSourceSchema = Type.Union([Type.Literal('imagenet'), Type.Literal('none')], {
  description:
    "'imagenet' starts from Keras' published ImageNet weights (efficientnetb{N}_notop.h5 in WEIGHTS_DIR); " +
    "'none' trains from random initialisation. Default 'imagenet'",
});

export const BatchNormModeSchema = Type.Union([Type.Literal('inference'), Type.Literal('train')], {
  description:
    "'inference': BatchNormalization uses and keeps its moving statistics, its gamma/beta stay frozen (the Keras " +
    "transfer-learning guide). 'train': it normalises with batch statistics and its gamma/beta train; after " +
    'every epoch the moving statistics are re-estimated on the training images (precise BN) so validation and ' +
    "the saved model match the trained weights. Default 'inference' with ImageNet weights, 'train' without",
});

export const BatchSizeSchema = Type.Union(
  [Type.Integer({ minimum: 1, maximum: 1024 }), Type.Literal('auto')],
  description(
    "Images per optimizer step, or 'auto': the largest power of two up to 32 that the memory estimate says " +
      'fits (weights, gradients, Adam state and activations per image; on wasm within its 4 GiB heap). ' +
      "Default 'auto'",
  ),
);

const LearningRate = (defaultText: string) =>
  Type.Number({ exclusiveMinimum: 0, maximum: 1, description: `Adam learning rate. ${defaultText}` });

export const AugmentationSchema = Type.Union(
  [
    Type.Object(
      {
        flip: Type.Optional(Type.Boolean(description('Random horizontal flip (probability 0.5). Default true'))),
        rotation: Type.Optional(
          Type.Number({
            minimum: 0,
            maximum: 0.5,
            description: 'RandomRotation factor: angle uniform in ±factor×360°. Default 0.15; 0 turns it off',
          }),
        ),
        translation: Type.Optional(
          Type.Number({
            minimum: 0,
            maximum: 0.5,
            description: 'RandomTranslation factor: shift uniform in ±factor×size on both axes. Default 0.1',
          }),
        ),
        contrast: Type.Optional(
          Type.Number({
            minimum: 0,
            maximum: 1,
            description: 'RandomContrast factor: contrast scaled by a factor in [1−f, 1+f]. Default 0.1',
          }),
        ),
      },
      { additionalProperties: false, description: 'Training-time augmentation; omitted fields take the defaults' },
    ),
    Type.Literal(false),
  ],
  description(
    "Training-time augmentation (keras.io's EfficientNet example set by default), or false for none. " +
      'Validation images are never augmented',
  ),
);

export const HeadPhaseSchema = Type.Object(
  {
    epochs: Type.Integer({ minimum: 0, maximum: 1000, description: 'Epochs of phase 1 (0 skips it)' }),
    batchSize: Type.Optional(BatchSizeSchema),
    learningRate: Type.Optional(LearningRate('Default 1e-3')),
    bnMode: Type.Optional(BatchNormModeSchema),
  },
  {
    additionalProperties: false,
    description: 'Phase 1: the base is frozen and only the new classifier (top_dropout + predictions) trains',
  },
);

export const EarlyStoppingSchema = Type.Object(
  {
    patience: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1000,
        description: 'Epochs without improvement of the validation loss before stopping. Default 3',
      }),
    ),
    minDelta: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 10,
        description: 'Smallest decrease of the validation loss that counts as an improvement. Default 0',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: "Stops fine-tuning when the validation loss stops improving and restores the best epoch's weights",
  },
);

export const FinetunePhaseSchema = Type.Object(
  {
    epochs: Type.Integer({ minimum: 0, maximum: 1000, description: 'Epochs of phase 2 (0 skips it)' }),
    batchSize: Type.Optional(BatchSizeSchema),
    learningRate: Type.Optional(LearningRate('Default 1e-5 with ImageNet weights, 3e-3 from random init')),
    unfreeze: Type.Optional(
      Type.String({
        pattern: '^(all|block[1-7][a-z])$',
        description:
          "'all' (default) unfreezes the whole base; a block name such as 'block6a' unfreezes that block, every " +
          'later one and top_conv/top_bn',
      }),
    ),
    bnMode: Type.Optional(BatchNormModeSchema),
    earlyStopping: Type.Optional(
      Type.Union([EarlyStoppingSchema, Type.Literal(false)], {
        description: 'Early stopping on the validation loss (on by default), or false to train every epoch',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Phase 2: part or all of the base is unfrozen and trained with a new Adam optimizer',
  },
);

export const TrainingConfigSchema = Type.Object(
  {
    architecture: ArchitectureSchema,
    weights: Type.Optional(WeightsSourceSchema),
    imageSize: Type.Optional(
      Type.Integer({
        minimum: 32,
        maximum: 600,
        description: "Square input size in pixels. Default: the variant's Keras size (224 for B0 … 600 for B7)",
      }),
    ),
    validationSplit: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 0.9,
        description:
          'Share of each class held out for validation (stratified, seeded). Used only when the dataset has no ' +
          'val/ folder. Default 0.2; 0 trains without validation (no early stopping, no evaluation)',
      }),
    ),
    seed: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 2 ** 31 - 1,
        description: 'Seeds initialisation, the split, shuffling, augmentation and dropout. Default 42',
      }),
    ),
    augmentation: Type.Optional(AugmentationSchema),
    head: HeadPhaseSchema,
    finetune: Type.Optional(
      Type.Union([FinetunePhaseSchema, Type.Literal(false)], {
        description: 'Phase 2 settings, or false (the default) to train the head only',
      }),
    ),
  },
  { additionalProperties: false, $id: 'TrainingConfig', description: 'How to train: model, data and both phases' },
);

export type TrainingConfig = Static<typeof TrainingConfigSchema>;
export type WeightsSource = Static<typeof WeightsSourceSchema>;
export type BatchSizeSetting = Static<typeof BatchSizeSchema>;

export interface ResolvedAugmentation {
  flip: boolean;
  rotation: number;
  translation: number;
  contrast: number;
}

export interface ResolvedHeadPhase {
  epochs: number;
  batchSize: number | 'auto';
  learningRate: number;
  bnMode: 'inference' | 'train';
}

export interface ResolvedEarlyStopping {
  patience: number;
  minDelta: number;
}

export interface ResolvedFinetunePhase extends ResolvedHeadPhase {
  unfreeze: string;
  earlyStopping: ResolvedEarlyStopping | false;
}

/** A TrainingConfig with every default filled in; what the trainer runs and metadata.json records. */
export interface ResolvedTrainingConfig {
  architecture: ArchitectureName;
  weights: WeightsSource;
  imageSize: number;
  validationSplit: number;
  seed: number;
  augmentation: ResolvedAugmentation | false;
  head: ResolvedHeadPhase;
  finetune: ResolvedFinetunePhase | false;
}

export const trainingDefaults = {
  weights: 'imagenet',
  validationSplit: 0.2,
  seed: 42,
  augmentation: { flip: true, rotation: 0.15, translation: 0.1, contrast: 0.1 },
  batchSize: 'auto',
  headLearningRate: 1e-3,
  finetuneLearningRate: { imagenet: 1e-5, none: 3e-3 },
  bnMode: { imagenet: 'inference', none: 'train' },
  unfreeze: 'all',
  earlyStopping: { patience: 3, minDelta: 0 },
} as const;

/** A configuration the user can fix (HTTP 400). `problems` lists every violation, one per line. */
export class TrainingConfigError extends DomainError {
  constructor(readonly problems: string[]) {
    super(400, 'Invalid Training Config', `Invalid training config: ${problems.join('; ')}`, { problems });
  }
}

export interface ResolveContext {
  /** Classes of the dataset, when known; must be at least 2. */
  numClasses?: number;
  /** Whether WEIGHTS_DIR holds the architecture's notop .h5; false makes weights 'imagenet' an error. */
  imagenetWeightsAvailable?: boolean;
  /** The service's JOB_MAX_IMAGE_SIZE: a larger imageSize (given or defaulted) is an error. */
  maxImageSize?: number;
  /** The service's JOB_MAX_EPOCHS: more head + finetune epochs is an error. */
  maxEpochs?: number;
}

/**
 * Schema violations as '<path>: <message>'. TypeBox reports a failed union only as "Expected union value";
 * for `X | false` unions holding an object the object's own errors are reported instead, and other unions
 * list what they accept.
 */
function schemaProblems(schema: TSchema, value: unknown, prefix = ''): string[] {
  const problems: string[] = [];
  for (const error of Value.Errors(schema, value)) {
    const where = `${prefix}${error.path}` || '/';
    const branches = (error.schema as { anyOf?: TSchema[] }).anyOf;
    if (!branches) {
      problems.push(`${where}: ${error.message}`);
      continue;
    }
    const objectBranch = branches.find((b) => b.type === 'object');
    if (objectBranch && typeof error.value === 'object' && error.value !== null) {
      problems.push(...schemaProblems(objectBranch, error.value, `${prefix}${error.path}`));
    } else {
      problems.push(
        `${where}: must be ${branches.map(describeBranch).join(' or ')}, got ${JSON.stringify(error.value)}`,
      );
    }
  }
  return problems;
}

function describeBranch(schema: TSchema): string {
  if ('const' in schema) return JSON.stringify(schema.const);
  const range = (s: TSchema) =>
    s.minimum !== undefined && s.maximum !== undefined ? ` from ${s.minimum} to ${s.maximum}` : '';
  if (schema.type === 'integer') return `an integer${range(schema)}`;
  if (schema.type === 'number') return `a number${range(schema)}`;
  if (schema.type === 'object') return 'an object';
  return String(schema.type ?? 'a value');
}

/**
 * Validates `raw` against TrainingConfigSchema and fills every default. Also accepts an already resolved
 * config (it is valid input). Throws TrainingConfigError listing every problem.
 */
export function resolveTrainingConfig(raw: unknown, context: ResolveContext = {}): ResolvedTrainingConfig {
  const problems = schemaProblems(TrainingConfigSchema, raw);
  if (problems.length > 0) throw new TrainingConfigError(dedupe(problems));
  const config = raw as TrainingConfig;
  const arch = getArchitecture(config.architecture);
  const weights = config.weights ?? trainingDefaults.weights;
  const defaultBn = trainingDefaults.bnMode[weights];

  const more: string[] = [];
  if (context.numClasses !== undefined && !(Number.isInteger(context.numClasses) && context.numClasses >= 2)) {
    more.push(`the dataset needs at least 2 classes, found ${context.numClasses}`);
  }
  if (weights === 'imagenet' && context.imagenetWeightsAvailable === false) {
    const file = publishedWeightsFor(arch.name, false)!.fileName;
    more.push(`weights 'imagenet' needs ${file} in WEIGHTS_DIR, which is missing; add it or train with weights 'none'`);
  }

  const imageSize = config.imageSize ?? arch.defaultImageSize;
  if (context.maxImageSize !== undefined && imageSize > context.maxImageSize) {
    const given = config.imageSize === undefined ? ` (the default of ${arch.name})` : '';
    more.push(
      `imageSize: ${imageSize}${given} is larger than this service allows (JOB_MAX_IMAGE_SIZE=${context.maxImageSize}); ` +
        `set imageSize to at most ${context.maxImageSize}`,
    );
  }
  const epochs = config.head.epochs + (config.finetune ? config.finetune.epochs : 0);
  if (context.maxEpochs !== undefined && epochs > context.maxEpochs) {
    more.push(
      `head.epochs + finetune.epochs: ${epochs} is more than this service allows (JOB_MAX_EPOCHS=${context.maxEpochs})`,
    );
  }

  let finetune: ResolvedFinetunePhase | false = false;
  if (config.finetune) {
    const f = config.finetune;
    const unfreeze = f.unfreeze ?? trainingDefaults.unfreeze;
    if (unfreeze !== 'all' && !efficientNetLayout(arch).blocks.some((b) => b.name === unfreeze)) {
      more.push(`finetune.unfreeze: ${arch.name} has no block '${unfreeze}'`);
    }
    const earlyStopping =
      f.earlyStopping === false
        ? false
        : {
            patience: f.earlyStopping?.patience ?? trainingDefaults.earlyStopping.patience,
            minDelta: f.earlyStopping?.minDelta ?? trainingDefaults.earlyStopping.minDelta,
          };
    finetune = {
      epochs: f.epochs,
      batchSize: f.batchSize ?? trainingDefaults.batchSize,
      learningRate: f.learningRate ?? trainingDefaults.finetuneLearningRate[weights],
      bnMode: f.bnMode ?? defaultBn,
      unfreeze,
      earlyStopping,
    };
  }
  if (more.length > 0) throw new TrainingConfigError(more);

  const augmentation =
    config.augmentation === false
      ? false
      : {
          flip: config.augmentation?.flip ?? trainingDefaults.augmentation.flip,
          rotation: config.augmentation?.rotation ?? trainingDefaults.augmentation.rotation,
          translation: config.augmentation?.translation ?? trainingDefaults.augmentation.translation,
          contrast: config.augmentation?.contrast ?? trainingDefaults.augmentation.contrast,
        };
  return {
    architecture: arch.name,
    weights,
    imageSize,
    validationSplit: config.validationSplit ?? trainingDefaults.validationSplit,
    seed: config.seed ?? trainingDefaults.seed,
    augmentation,
    head: {
      epochs: config.head.epochs,
      batchSize: config.head.batchSize ?? trainingDefaults.batchSize,
      learningRate: config.head.learningRate ?? trainingDefaults.headLearningRate,
      bnMode: config.head.bnMode ?? defaultBn,
    },
    finetune,
  };
}

function dedupe(problems: string[]): string[] {
  return [...new Set(problems)];
}
