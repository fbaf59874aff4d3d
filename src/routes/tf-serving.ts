import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../errors/domain-error.js';
import type { Model } from '../schemas/models.js';
import {
  TfServingErrorSchema,
  TfServingMetadataSchema,
  TfServingParamsSchema,
  TfServingPredictResponseSchema,
  TfServingStatusSchema,
  TfServingVersionParamsSchema,
  tfServingPredictBody,
} from '../schemas/tf-serving.js';
import { servableNotFound, TfServingError } from '../serving/tf-serving-error.js';
import { parsePredictBody, readInstances } from '../serving/tf-serving-request.js';
import { predictResponse } from '../serving/tf-serving-response.js';
import { modelMetadata, modelStatus, outputOf, servedVersion } from '../serving/tf-serving-signatures.js';

/**
 * TF Serving's REST API (tensorflow_serving/g3doc/api_rest.md) beside our own, so clients written for TF
 * Serving work unchanged: model status, metadata and `:predict`, each also under `/versions/1`. GET
 * /v1/models/{id} itself is our route, whose answer carries TF Serving's `model_version_status` too. Same auth
 * as the rest of the API; errors are TF Serving's `{"error": "…"}` with its HTTP statuses. README, "TF
 * Serving REST API", lists where the shapes differ and why.
 */

const errors = { 400: TfServingErrorSchema, 401: TfServingErrorSchema, 404: TfServingErrorSchema };
const config = { tfServingErrors: true };
const tags = ['tf-serving'];

const tfServingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // TF Serving reads any body as JSON whatever its content type (its docs' `curl -d` sends form-urlencoded),
  // and its parse errors have their own words: read the text here, parse it in parsePredictBody.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  /** The model behind a TF Serving name (and version), or TF Serving's 404. */
  async function servable(request: FastifyRequest, id: string, version?: string): Promise<Model> {
    if (version !== undefined) {
      if (!/^\d+$/.test(version)) {
        throw new TfServingError(400, `Malformed request: ${request.method} ${request.url.split('?')[0]}`);
      }
      if (Number(version) !== Number(servedVersion)) throw servableNotFound(id, String(Number(version)));
    }
    try {
      return await app.models.get(id);
    } catch (error) {
      if (error instanceof NotFoundError) throw servableNotFound(id, version);
      throw error;
    }
  }

  async function predict(request: FastifyRequest, id: string, version?: string) {
    const body = parsePredictBody(request.body);
    const model = await servable(request, id, version);
    const output = outputOf(model, body.signatureName);
    const images = await readInstances(body, {
      imageSize: model.imageSize,
      maxInstances: app.config.limits.predictInstances,
    });
    const inference = { modelId: id, artifactDir: app.models.dir(id), images };
    const rows =
      output === 'probabilities'
        ? await app.inference.probabilities(inference)
        : (await app.inference.features(inference)).features;
    return predictResponse(body.format, rows);
  }

  app.get(
    '/models/:id/versions/:version',
    {
      config,
      schema: {
        tags,
        summary: 'TF Serving model status of one version (GetModelStatus)',
        params: TfServingVersionParamsSchema,
        response: { 200: TfServingStatusSchema, ...errors },
      },
    },
    async (request) => {
      await servable(request, request.params.id, request.params.version);
      return modelStatus();
    },
  );

  for (const versioned of [false, true]) {
    const prefix = versioned ? '/models/:id/versions/:version' : '/models/:id';
    const params = versioned ? TfServingVersionParamsSchema : TfServingParamsSchema;
    const version = (request: FastifyRequest) => (request.params as { version?: string }).version;

    app.get(
      `${prefix}/metadata`,
      {
        config,
        schema: {
          tags,
          summary: 'TF Serving model metadata: the signatures (GetModelMetadata)',
          params,
          response: { 200: TfServingMetadataSchema, ...errors },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        return modelMetadata(await servable(request, id, version(request)));
      },
    );

    // find-my-way: `::` is a literal colon, and only a parameter with a regex ends before one (a plain
    // `:id::predict` would take `id::predict` as the parameter's name).
    const predictPath = versioned ? '/models/:id/versions/:version(^[^:/]+)::predict' : '/models/:id(^[^:/]+)::predict';
    app.post(
      predictPath,
      {
        config,
        schema: {
          tags,
          summary: "TF Serving :predict: row ('instances') or columnar ('inputs') format, pixels or b64 images",
          params,
          body: tfServingPredictBody,
          response: {
            200: TfServingPredictResponseSchema,
            ...errors,
            409: TfServingErrorSchema,
            503: TfServingErrorSchema,
          },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        return predict(request, id, version(request));
      },
    );
  }
};

export default tfServingRoutes;
