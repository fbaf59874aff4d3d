import { Type, type Static } from '@sinclair/typebox';
import { ArchitectureSchema } from './training-config.js';

export const ParameterCountsSchema = Type.Object(
  {
    total: Type.Integer(),
    trainable: Type.Integer(),
    nonTrainable: Type.Integer(),
  },
  { $id: 'ParameterCounts', description: "Parameters as Keras' model.summary() counts them" },
);

export const ArchitectureSummarySchema = Type.Object(
  {
    name: ArchitectureSchema,
    defaultImageSize: Type.Integer({ description: 'Input size the ImageNet weights were trained at' }),
    featureDim: Type.Integer({ description: 'Width of the avg_pool output that /features returns' }),
    baseParams: Type.Integer({ description: 'Parameters of the base without top (normalization constants excluded)' }),
  },
  { $id: 'ArchitectureSummary' },
);

export const ArchitectureListSchema = Type.Object({ architectures: Type.Array(Type.Ref(ArchitectureSummarySchema)) });

export const ArchitectureParamsSchema = Type.Object({ name: Type.String({ description: "e.g. 'efficientnet-b5'" }) });

export const PhaseSummaryQuerySchema = Type.Object({
  numClasses: Type.Integer({ minimum: 2, maximum: 100000, default: 1000, description: 'Classes of the new head' }),
  headBnMode: Type.Optional(Type.Union([Type.Literal('inference'), Type.Literal('train')])),
  unfreeze: Type.Optional(Type.String({ pattern: '^(all|block[1-7][a-z])$' })),
});

export const PhaseSummariesSchema = Type.Object(
  {
    name: ArchitectureSchema,
    numClasses: Type.Integer(),
    head: Type.Ref(ParameterCountsSchema),
    finetune: Type.Ref(ParameterCountsSchema),
  },
  { $id: 'PhaseSummaries', description: 'Parameter counts in each phase of the default two-phase schedule' },
);
export type PhaseSummaries = Static<typeof PhaseSummariesSchema>;
