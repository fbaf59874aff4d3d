import { Type } from '@sinclair/typebox';
import { ModelVersionStatusSchema } from './models.js';

/**
 * TF Serving's REST API shapes (tensorflow_serving/g3doc/api_rest.md), for the routes that speak it. Parsing
 * and checking happen in src/serving/ with TF Serving's messages, so the request schemas here only document.
 */

export const TfServingParamsSchema = Type.Object({ id: Type.String({ description: 'The model id' }) });
export const TfServingVersionParamsSchema = Type.Object({
  id: Type.String({ description: 'The model id' }),
  version: Type.String({ description: 'Always "1": every model has one version' }),
});

export const TfServingErrorSchema = Type.Object(
  { error: Type.String() },
  { description: "TF Serving's error body (application/json), with its HTTP status" },
);

export const TfServingStatusSchema = Type.Object(
  { model_version_status: Type.Array(ModelVersionStatusSchema) },
  { description: 'GetModelStatusResponse' },
);

const TensorInfoSchema = Type.Object({
  dtype: Type.String(),
  tensor_shape: Type.Object({
    dim: Type.Array(Type.Object({ size: Type.String(), name: Type.String() })),
    unknown_rank: Type.Boolean(),
  }),
  name: Type.String(),
});

export const TfServingMetadataSchema = Type.Object(
  {
    model_spec: Type.Object({ name: Type.String(), signature_name: Type.String(), version: Type.String() }),
    metadata: Type.Object({
      signature_def: Type.Object({
        signature_def: Type.Record(
          Type.String(),
          Type.Object({
            inputs: Type.Record(Type.String(), TensorInfoSchema),
            outputs: Type.Record(Type.String(), TensorInfoSchema),
            method_name: Type.String(),
            defaults: Type.Object({}),
          }),
          { description: 'serving_default (probabilities) and features' },
        ),
      }),
    }),
  },
  { description: 'GetModelMetadataResponse: the signatures, as TF Serving prints them' },
);

const Rows = Type.Array(Type.Array(Type.Number()), { description: "One row per instance: the signature's output" });

export const TfServingPredictResponseSchema = Type.Union(
  [Type.Object({ predictions: Rows }), Type.Object({ outputs: Rows })],
  { description: '`predictions` for a row-format request, `outputs` for a columnar one' },
);

/** Documentation only: the body is read as text (TF Serving clients send any content type) and checked in code. */
export const tfServingPredictBody = {
  content: {
    'application/json': {
      schema: {
        properties: {
          signature_name: { type: 'string', description: "'serving_default' (default: probabilities) or 'features'" },
          instances: {
            type: 'array',
            description:
              'Row format: per image an [imageSize, imageSize, 3] list of RGB integers 0..255, or {"b64": "<image file>"}',
          },
          inputs: {
            description: 'Columnar format: the same list of images, or {"pixels": that list}',
          },
        },
        description: "TF Serving's PredictRequest in JSON: exactly one of `instances` and `inputs`",
      },
    },
  },
};
