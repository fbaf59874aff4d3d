import { Type, type Static } from '@sinclair/typebox';

/** One entry of TF Serving's GetModelStatusResponse.model_version_status, as its REST API prints it. */
export const ModelVersionStatusSchema = Type.Object({
  version: Type.String(),
  state: Type.Union(
    [
      Type.Literal('START'),
      Type.Literal('LOADING'),
      Type.Literal('AVAILABLE'),
      Type.Literal('UNLOADING'),
      Type.Literal('END'),
    ],
    { description: 'Always AVAILABLE here: a model is listed only once its artifact is complete' },
  ),
  status: Type.Object({ error_code: Type.String(), error_message: Type.String() }),
});

export const ModelSchema = Type.Object(
  {
    id: Type.String(),
    source: Type.Union([Type.Literal('trained'), Type.Literal('base')], {
      description:
        "'trained': produced by a job; 'base': Keras' ImageNet weights from WEIGHTS_DIR, ready without training " +
        '(id efficientnet-bN-imagenet; cannot be deleted)',
    }),
    jobId: Type.Union([Type.String(), Type.Null()], { description: 'The job that trained it; null for base models' }),
    datasetId: Type.Union([Type.String(), Type.Null()], { description: 'Its training dataset; null for base models' }),
    architecture: Type.String(),
    imageSize: Type.Integer(),
    classes: Type.Array(Type.String(), { description: 'Class names in output index order' }),
    featureDim: Type.Integer(),
    metrics: Type.Object({
      valAccuracy: Type.Union([Type.Number(), Type.Null()]),
      valLoss: Type.Union([Type.Number(), Type.Null()]),
      top5Accuracy: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
      perClass: Type.Array(
        Type.Object({
          label: Type.String(),
          precision: Type.Number(),
          recall: Type.Number(),
          f1: Type.Number(),
          support: Type.Integer(),
        }),
      ),
      confusionMatrix: Type.Array(Type.Array(Type.Integer()), {
        description: 'rows: true class, columns: predicted class, in class index order',
      }),
    }),
    formats: Type.Array(Type.Union([Type.Literal('tfjs'), Type.Literal('onnx')])),
    createdAt: Type.String({ format: 'date-time' }),
    model_version_status: Type.Optional(
      Type.Array(ModelVersionStatusSchema, {
        description:
          "Only in GET /v1/models/{id}: TF Serving's model status (GetModelStatusResponse, as its REST API prints " +
          'it), one version "1", AVAILABLE, so TF Serving clients can poll this route unchanged',
      }),
    ),
  },
  { $id: 'Model' },
);
export type Model = Static<typeof ModelSchema>;

export const ModelListSchema = Type.Object({ models: Type.Array(Type.Ref(ModelSchema)) });
export const ModelParamsSchema = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });

export const ArtifactQuerySchema = Type.Object({
  format: Type.Union([Type.Literal('tfjs'), Type.Literal('onnx')], {
    default: 'tfjs',
    description: "'tfjs': model.json, shards and metadata.json as one .tar.gz; 'onnx': model.onnx",
  }),
});

export const InstancesBodySchema = Type.Object(
  {
    instances: Type.Array(
      Type.Object({ b64: Type.String({ description: 'Base64 of an encoded image (JPEG, PNG, WebP, …)' }) }),
      { minItems: 1, description: "TF Serving's shape for binary inputs" },
    ),
  },
  { description: 'JSON alternative to a multipart upload of image files' },
);
export type InstancesBody = Static<typeof InstancesBodySchema>;

export const PredictQuerySchema = Type.Object({
  topK: Type.Integer({ minimum: 1, maximum: 100, default: 5, description: 'Classes listed per image' }),
});

export const ScoredLabelSchema = Type.Object({ label: Type.String(), probability: Type.Number() });

export const PredictResponseSchema = Type.Object({
  predictions: Type.Array(
    Type.Object({
      label: Type.String({ description: 'The most probable class' }),
      probability: Type.Number(),
      topK: Type.Array(ScoredLabelSchema),
    }),
    { description: 'One per input image, in input order' },
  ),
});

export const FeaturesQuerySchema = Type.Object({
  normalize: Type.Optional(Type.Literal('l2', { description: 'Scale each feature vector to unit length' })),
});

export const FeaturesResponseSchema = Type.Object({
  dim: Type.Integer({ description: 'Width of each vector (1280 for B0, 2048 for B5)' }),
  features: Type.Array(Type.Array(Type.Number()), { description: 'avg_pool outputs, one per image, in input order' }),
});
