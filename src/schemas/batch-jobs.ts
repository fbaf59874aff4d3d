import { Type, type Static } from '@sinclair/typebox';
import { jobStatuses } from './jobs.js';

const idPattern = '^[A-Za-z0-9_-]{1,64}$';

export const batchOutputs = ['features', 'predictions', 'both'] as const;
export const batchFormats = ['npy', 'jsonl', 'parquet'] as const;

/** What a batch job computes and how it writes it; the same fields in a JSON body and in a multipart form. */
export const BatchOptionsSchema = Type.Object({
  output: Type.Union(
    batchOutputs.map((o) => Type.Literal(o)),
    {
      default: 'features',
      description: "'features': avg_pool embeddings as /features returns them; 'predictions': as /predict; 'both'",
    },
  ),
  normalize: Type.Optional(Type.Literal('l2', { description: 'Scale each feature vector to unit length' })),
  topK: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 5,
    description: 'Classes listed per image in jsonl and parquet predictions (npy holds every probability)',
  }),
  format: Type.Union(
    batchFormats.map((f) => Type.Literal(f)),
    {
      default: 'npy',
      description:
        "'npy': features.npy and probabilities.npy (float32, one row per manifest row); 'jsonl': results.jsonl; " +
        "'parquet': results.parquet",
    },
  ),
});
export type BatchOptions = Static<typeof BatchOptionsSchema>;

export const CreateBatchJobBodySchema = Type.Composite(
  [
    Type.Object({ datasetId: Type.String({ pattern: idPattern, description: 'An uploaded dataset' }) }),
    BatchOptionsSchema,
  ],
  { additionalProperties: false, description: 'A batch job over every image of an uploaded dataset' },
);
export type CreateBatchJobBody = Static<typeof CreateBatchJobBodySchema>;

/** Documents the multipart alternative (validated by the route, since the body is streamed). */
export const BatchUploadFormSchema = {
  properties: {
    file: {
      type: 'string',
      format: 'binary',
      description: 'A .zip, .tar or .tar.gz of images, in <class>/ folders or without any (then class is null)',
    },
    output: { type: 'string', enum: [...batchOutputs] },
    normalize: { type: 'string', enum: ['l2'] },
    topK: { type: 'integer', minimum: 1, maximum: 100 },
    format: { type: 'string', enum: [...batchFormats] },
  },
  required: ['file'],
  description: 'An archive of images plus the same options as the JSON body, as form fields',
};

export const BatchJobSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.Union(
      jobStatuses.map((s) => Type.Literal(s)),
      { description: 'queued, running, completed, failed or cancelled' },
    ),
    modelId: Type.String(),
    source: Type.Union([Type.Literal('dataset'), Type.Literal('upload')]),
    datasetId: Type.Union([Type.String(), Type.Null()]),
    output: Type.Union(batchOutputs.map((o) => Type.Literal(o))),
    format: Type.Union(batchFormats.map((f) => Type.Literal(f))),
    normalize: Type.Union([Type.Literal('l2'), Type.Null()]),
    topK: Type.Integer(),
    stage: Type.Union([Type.String(), Type.Null()], { description: 'What a running job is doing right now' }),
    processed: Type.Integer({ description: 'Images read so far (written rows plus skipped images)' }),
    total: Type.Union([Type.Integer(), Type.Null()], { description: 'Images found; null until the job starts' }),
    rows: Type.Integer({ description: 'Rows written so far' }),
    skipped: Type.Integer({ description: 'Images that could not be decoded (listed in skipped.jsonl)' }),
    progress: Type.Number({ minimum: 0, maximum: 1, description: 'processed / total' }),
    attempt: Type.Integer({ description: 'Attempts started (a retried job starts over)' }),
    peakRssBytes: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Highest resident memory of the process running the job, for sizing inference workers',
    }),
    files: Type.Array(Type.String(), { description: 'Files of the finished result' }),
    resultUrl: Type.Union([Type.String(), Type.Null()], { description: 'Where to download the result when completed' }),
    error: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'BatchJob' },
);
export type BatchJob = Static<typeof BatchJobSchema>;

export const CreatedBatchJobSchema = Type.Object({ id: Type.String(), status: Type.Literal('queued') });

export const BatchJobListSchema = Type.Object({
  batchJobs: Type.Array(Type.Ref(BatchJobSchema)),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
});

export const BatchJobParamsSchema = Type.Object({ id: Type.String({ pattern: idPattern }) });

/** Every file a result directory can hold; the download route serves only these names. */
export const batchResultFiles = [
  'manifest.jsonl',
  'skipped.jsonl',
  'result.json',
  'features.npy',
  'probabilities.npy',
  'results.jsonl',
  'results.parquet',
] as const;
export type BatchResultFile = (typeof batchResultFiles)[number];

export const BatchResultFileParamsSchema = Type.Object({
  id: Type.String({ pattern: idPattern }),
  file: Type.Union(
    batchResultFiles.map((f) => Type.Literal(f)),
    { description: 'One file of the result' },
  ),
});
