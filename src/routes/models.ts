import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { NotFoundError } from '../errors/domain-error.js';
import {
  ArtifactQuerySchema,
  FeaturesQuerySchema,
  FeaturesResponseSchema,
  InstancesBodySchema,
  ModelListSchema,
  ModelParamsSchema,
  PredictQuerySchema,
  PredictResponseSchema,
} from '../schemas/models.js';
import { problemResponse } from '../schemas/problem.js';
import { readImageInputs } from './image-inputs.js';
import { availableVersion } from '../serving/tf-serving-signatures.js';

// Per media type: JSON is validated here; multipart is streamed and checked in readImageInputs (its schema
// has no `type` so the not-yet-parsed body passes, and it still documents the form in openapi.yaml).
const imageBody = {
  content: {
    'application/json': { schema: InstancesBodySchema },
    'multipart/form-data': {
      schema: {
        properties: { file: { type: 'array', items: { type: 'string', format: 'binary' } } },
        description: 'One or more image files (any field name), answered in order',
      },
    },
  },
};

const inferenceErrors = {
  400: problemResponse('Bad input: invalid base64, not an image, or too many images (names the instance)'),
  404: problemResponse('No such model'),
  500: problemResponse('The model could not be loaded (a corrupt or incomplete artifact)'),
  503: problemResponse('The inference engine is restarting; retry'),
};

const modelRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/models',
    {
      schema: {
        tags: ['models'],
        summary: 'Trained models, newest first, then the ImageNet base models whose weights are in WEIGHTS_DIR',
        response: { 200: ModelListSchema },
      },
    },
    async () => ({ models: await app.models.list() }),
  );

  app.get(
    '/models/:id',
    {
      schema: {
        tags: ['models'],
        summary: 'A model: classes in index order, image size, feature width and its evaluation',
        params: ModelParamsSchema,
        response: { 200: { $ref: 'Model#' }, 404: problemResponse('No such model') },
      },
    },
    // TF Serving's GET /v1/models/{name} shares this path: the answer is our model plus its status field.
    async (request) => ({ ...(await app.models.get(request.params.id)), model_version_status: [availableVersion] }),
  );

  app.delete(
    '/models/:id',
    {
      schema: {
        tags: ['models'],
        summary: 'Delete a model and unload it from the inference engines',
        params: ModelParamsSchema,
        response: {
          204: { type: 'null', description: 'Deleted' },
          404: problemResponse('No such model'),
          409: problemResponse('A base model (it comes from WEIGHTS_DIR: remove its weights file there instead)'),
        },
      },
    },
    async (request, reply) => {
      await app.models.delete(request.params.id);
      await app.inference.evict(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/models/:id/artifact',
    {
      schema: {
        tags: ['models'],
        summary: 'Download the trained model: tfjs layers format with metadata (.tar.gz), or model.onnx',
        params: ModelParamsSchema,
        querystring: ArtifactQuerySchema,
        produces: ['application/gzip', 'application/octet-stream'],
        response: {
          200: { type: 'string', format: 'binary', description: 'The artifact' },
          404: problemResponse('No such model, or no artifact in that format'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await app.models.get(id);
      const dir = app.models.dir(id);
      if (request.query.format === 'onnx') {
        const onnx = path.join(dir, 'model.onnx');
        if (!fs.existsSync(onnx)) throw new NotFoundError('onnx artifact of model', id);
        return reply
          .type('application/octet-stream')
          .header('content-disposition', `attachment; filename="${id}.onnx"`)
          .send(fs.createReadStream(onnx));
      }
      const files = (await fsp.readdir(dir)).filter((f) => f !== 'model.onnx').sort();
      return reply
        .type('application/gzip')
        .header('content-disposition', `attachment; filename="${id}.tar.gz"`)
        .send(tar.create({ gzip: true, cwd: dir, portable: true }, files));
    },
  );

  app.post(
    '/models/:id/predict',
    {
      schema: {
        tags: ['models'],
        summary: 'Class probabilities for one or more images, in input order',
        params: ModelParamsSchema,
        querystring: PredictQuerySchema,
        body: imageBody,
        response: {
          200: PredictResponseSchema,
          ...inferenceErrors,
          409: problemResponse('The model has no classifier (a base model without its with-top weights file)'),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      await app.models.requireClassifier(await app.models.get(id));
      const images = await readImageInputs(request, app.config.limits.predictInstances);
      return app.inference.predict({ modelId: id, artifactDir: app.models.dir(id), images, topK: request.query.topK });
    },
  );

  app.post(
    '/models/:id/features',
    {
      schema: {
        tags: ['models'],
        summary: 'Penultimate-layer embeddings (the avg_pool output) for one or more images, in input order',
        params: ModelParamsSchema,
        querystring: FeaturesQuerySchema,
        body: imageBody,
        response: { 200: FeaturesResponseSchema, ...inferenceErrors },
      },
    },
    async (request) => {
      const { id } = request.params;
      await app.models.get(id);
      const images = await readImageInputs(request, app.config.limits.predictInstances);
      return app.inference.features({
        modelId: id,
        artifactDir: app.models.dir(id),
        images,
        normalize: request.query.normalize,
      });
    },
  );
};

export default modelRoutes;
