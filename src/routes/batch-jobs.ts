import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Value } from '@sinclair/typebox/value';
import fs from 'node:fs';
import * as tar from 'tar';
import { BadRequestError, ConflictError } from '../errors/domain-error.js';
import {
  BatchJobListSchema,
  BatchJobParamsSchema,
  BatchOptionsSchema,
  BatchResultFileParamsSchema,
  BatchUploadFormSchema,
  CreateBatchJobBodySchema,
  CreatedBatchJobSchema,
  type BatchOptions,
  type CreateBatchJobBody,
  type BatchResultFile,
} from '../schemas/batch-jobs.js';
import { JobListQuerySchema } from '../schemas/jobs.js';
import { ModelParamsSchema, type Model } from '../schemas/models.js';
import { problemResponse } from '../schemas/problem.js';
import type { StagedBatchInput } from '../services/batch-job-service.js';

const mediaTypes: Record<string, string> = {
  '.npy': 'application/octet-stream',
  '.jsonl': 'application/x-ndjson',
  '.json': 'application/json',
  '.parquet': 'application/vnd.apache.parquet',
};

const batchJobRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/models/:id/batch',
    {
      schema: {
        tags: ['batch'],
        summary: 'Start a batch job: features and/or predictions for every image of a dataset or an uploaded archive',
        description:
          'Runs on the `inference` queue (inference workers, apart from training). The result holds manifest.jsonl ' +
          '(row, path, class) and the rows in the chosen format, row i for manifest line i.',
        params: ModelParamsSchema,
        body: {
          content: {
            'application/json': { schema: CreateBatchJobBodySchema },
            'multipart/form-data': { schema: BatchUploadFormSchema },
          },
        },
        response: {
          202: CreatedBatchJobSchema,
          400: problemResponse('Invalid options, or no file field'),
          404: problemResponse('No such model or dataset'),
          409: problemResponse('Predictions asked of a model without classes'),
          413: problemResponse('Upload larger than UPLOAD_MAX_BYTES'),
          422: problemResponse('Not an archive, an unsafe archive, or no images in it'),
          429: problemResponse('More jobs than RATE_LIMIT_JOBS per minute'),
        },
      },
      config: { rateLimit: { max: app.config.limits.jobsPerMinute, timeWindow: 60_000 } },
    },
    async (request, reply) => {
      const modelId = request.params.id;
      const model = await app.models.get(modelId);
      let created: { id: string };
      if (request.isMultipart()) {
        let staged: StagedBatchInput | undefined;
        const fields: Record<string, string> = {};
        try {
          for await (const part of request.parts()) {
            if (part.type === 'field') {
              if (typeof part.value === 'string') fields[part.fieldname] = part.value;
              continue;
            }
            if (part.fieldname !== 'file' || staged) {
              part.file.resume();
              continue;
            }
            // Options sent before the file are checked before the archive is stored.
            requireOutput(model, parseFormOptions(fields));
            staged = await app.batchJobs.stageUpload(part.file);
          }
          if (!staged) throw new BadRequestError('the multipart body has no "file" field (an archive of images)');
          const options = parseFormOptions(fields);
          requireOutput(model, options);
          created = await app.batchJobs.create(modelId, options, staged);
        } catch (error) {
          if (staged) await app.batchJobs.discard(staged);
          throw error;
        }
      } else {
        if (!request.body) throw new BadRequestError('send {"datasetId": …} as JSON, or an archive as multipart');
        // The body schema is per media type, so the type provider cannot infer it; Fastify validated it.
        const { datasetId, ...options } = request.body as CreateBatchJobBody;
        requireOutput(model, options);
        await app.datasets.get(datasetId);
        created = await app.batchJobs.create(modelId, options, { datasetId });
      }
      return reply
        .code(202)
        .header('location', `/v1/batch-jobs/${created.id}`)
        .send({ id: created.id, status: 'queued' as const });
    },
  );

  app.get(
    '/batch-jobs',
    {
      schema: {
        tags: ['batch'],
        summary: 'Batch jobs, newest first, optionally by status',
        querystring: JobListQuerySchema,
        response: { 200: BatchJobListSchema },
      },
    },
    async (request) => app.batchJobs.list(request.query),
  );

  app.get(
    '/batch-jobs/:id',
    {
      schema: {
        tags: ['batch'],
        summary: 'A batch job: status, images processed of the total, and where its result is once completed',
        params: BatchJobParamsSchema,
        response: { 200: { $ref: 'BatchJob#' }, 404: problemResponse('No such batch job') },
      },
    },
    async (request) => app.batchJobs.get(request.params.id),
  );

  app.post(
    '/batch-jobs/:id/cancel',
    {
      schema: {
        tags: ['batch'],
        summary: 'Cancel a queued batch job at once, or a running one within a batch of images; it keeps no output',
        params: BatchJobParamsSchema,
        response: {
          202: { $ref: 'BatchJob#' },
          404: problemResponse('No such batch job'),
          409: problemResponse('The job already ended'),
        },
      },
    },
    async (request, reply) => reply.code(202).send(await app.batchJobs.cancel(request.params.id)),
  );

  app.get(
    '/batch-jobs/:id/result',
    {
      schema: {
        tags: ['batch'],
        summary: 'Download the whole result as a .tar (manifest.jsonl, skipped.jsonl, result.json and the rows)',
        params: BatchJobParamsSchema,
        produces: ['application/x-tar'],
        response: {
          200: { type: 'string', format: 'binary', description: 'A tar archive of the result files' },
          404: problemResponse('No such batch job'),
          409: problemResponse('The job has not completed'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { dir, files } = await app.batchJobs.result(id);
      return reply
        .type('application/x-tar')
        .header('content-disposition', `attachment; filename="${id}.tar"`)
        .send(tar.create({ cwd: dir, portable: true }, files));
    },
  );

  app.get(
    '/batch-jobs/:id/result/:file',
    {
      schema: {
        tags: ['batch'],
        summary: 'Download one file of the result (e.g. features.npy, manifest.jsonl)',
        params: BatchResultFileParamsSchema,
        produces: ['application/octet-stream', 'application/x-ndjson', 'application/json'],
        response: {
          200: { type: 'string', format: 'binary', description: 'The file' },
          404: problemResponse('No such batch job, or the result has no such file'),
          409: problemResponse('The job has not completed'),
        },
      },
    },
    async (request, reply) => {
      const { id, file } = request.params;
      const name = file as BatchResultFile;
      const full = await app.batchJobs.resultFile(id, name);
      return reply
        .type(mediaTypes[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream')
        .header('content-disposition', `attachment; filename="${id}-${name}"`)
        .send(fs.createReadStream(full));
    },
  );
};

/** Predictions need a classifier; a features-only model (a base model without its top) has none. */
function requireOutput(model: Model, options: BatchOptions): void {
  if (options.output !== 'features' && model.classes.length === 0) {
    throw new ConflictError(
      `model '${model.id}' has no classes (a features-only model), so it cannot give predictions; ask for output "features"`,
      { modelId: model.id },
    );
  }
}

/** The options of a multipart request, from its form fields, with the JSON body's defaults and checks. */
function parseFormOptions(fields: Record<string, string>): BatchOptions {
  const known = Object.keys(BatchOptionsSchema.properties);
  const unknown = Object.keys(fields).filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new BadRequestError(
      `unknown form field(s) ${unknown.map((n) => `'${n}'`).join(', ')}; known: ${known.join(', ')}`,
    );
  }
  const options = Value.Convert(BatchOptionsSchema, Value.Default(BatchOptionsSchema, { ...fields }));
  const problems = [...Value.Errors(BatchOptionsSchema, options)].map(
    (e) => `${e.path.replace(/^\//, '')}=${JSON.stringify(fields[e.path.replace(/^\//, '')] ?? '')}: ${e.message}`,
  );
  if (problems.length > 0) throw new BadRequestError(`invalid batch options: ${problems.join('; ')}`);
  return options as BatchOptions;
}

export default batchJobRoutes;
