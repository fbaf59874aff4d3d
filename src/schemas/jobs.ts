import { Type, type Static } from '@sinclair/typebox';
import { ParameterCountsSchema } from './architectures.js';
import { TrainingConfigSchema } from './training-config.js';

export const CreateJobBodySchema = Type.Composite(
  [Type.Object({ datasetId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }), TrainingConfigSchema],
  { additionalProperties: false, description: 'A two-phase training job on an uploaded dataset' },
);
export type CreateJobBody = Static<typeof CreateJobBodySchema>;

export const jobStatuses = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobStatusName = (typeof jobStatuses)[number];

export const HistoryEntrySchema = Type.Object({
  phase: Type.Union([Type.Literal('head'), Type.Literal('finetune')]),
  epoch: Type.Integer(),
  loss: Type.Number(),
  accuracy: Type.Number(),
  valLoss: Type.Union([Type.Number(), Type.Null()]),
  valAccuracy: Type.Union([Type.Number(), Type.Null()]),
  durationMs: Type.Number(),
  imagesPerSecond: Type.Optional(Type.Number()),
});

export const JobSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.Union(
      jobStatuses.map((s) => Type.Literal(s)),
      { description: 'queued, running, completed, failed or cancelled' },
    ),
    datasetId: Type.String(),
    architecture: Type.String(),
    phase: Type.Union([Type.Literal('head'), Type.Literal('finetune'), Type.Null()]),
    stage: Type.Union([Type.String(), Type.Null()], { description: 'What a running job is doing right now' }),
    epoch: Type.Integer({ description: 'Epochs finished in the current phase' }),
    epochs: Type.Integer({ description: 'Epochs planned in the current phase' }),
    progress: Type.Number({ minimum: 0, maximum: 1, description: 'Fraction of all planned epochs done' }),
    attempt: Type.Integer({ description: 'Attempts started (a retry resumes from the last checkpoint)' }),
    history: Type.Array(HistoryEntrySchema),
    summary: Type.Object(
      {
        head: Type.Optional(Type.Ref(ParameterCountsSchema)),
        finetune: Type.Optional(Type.Ref(ParameterCountsSchema)),
      },
      { description: 'Parameter counts per phase' },
    ),
    modelId: Type.Union([Type.String(), Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    config: Type.Unknown({ description: 'The job as submitted' }),
  },
  { $id: 'Job' },
);
export type Job = Static<typeof JobSchema>;

export const CreatedJobSchema = Type.Object({
  id: Type.String(),
  status: Type.Literal('queued'),
});

export const JobParamsSchema = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });

export const JobListQuerySchema = Type.Object({
  status: Type.Optional(Type.Union(jobStatuses.map((s) => Type.Literal(s)))),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
});

export const JobListSchema = Type.Object({
  jobs: Type.Array(Type.Ref(JobSchema)),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
});

export const IdempotencyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Resending the same key with the same body returns the same job instead of a new one',
    }),
  ),
});
