import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BadRequestError, ConflictError } from '../errors/domain-error.js';
import { DatasetListSchema, DatasetParamsSchema, DatasetUploadSchema } from '../schemas/datasets.js';
import { problemResponse } from '../schemas/problem.js';

const datasetRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/datasets',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Upload a labelled image dataset as an archive',
        body: { content: { 'multipart/form-data': { schema: DatasetUploadSchema } } },
        response: {
          201: { $ref: 'Dataset#' },
          400: problemResponse('Not multipart, or no file field'),
          413: problemResponse('Upload larger than UPLOAD_MAX_BYTES'),
          422: problemResponse('Not an archive, an unsafe archive, or not a usable dataset'),
          507: problemResponse('No space left under DATA_DIR'),
          429: problemResponse('More uploads than RATE_LIMIT_UPLOADS per minute'),
        },
      },
      config: { rateLimit: { max: app.config.limits.uploadsPerMinute, timeWindow: 60_000 } },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw new BadRequestError('send the archive as multipart/form-data, field "file"');
      let name: string | undefined;
      for await (const part of request.parts()) {
        if (part.type === 'field') {
          if (part.fieldname === 'name' && typeof part.value === 'string') name = part.value;
          continue;
        }
        if (part.fieldname !== 'file') {
          part.file.resume();
          continue;
        }
        const dataset = await app.datasets.createFromUpload(part.file, { filename: part.filename, name });
        // Drain anything after the file so the request ends cleanly.
        for await (const rest of request.parts()) if (rest.type === 'file') rest.file.resume();
        return reply.code(201).send(dataset);
      }
      throw new BadRequestError('the multipart body has no "file" field');
    },
  );

  app.get(
    '/datasets',
    { schema: { tags: ['datasets'], summary: 'Datasets, newest first', response: { 200: DatasetListSchema } } },
    async () => ({ datasets: await app.datasets.list() }),
  );

  app.get(
    '/datasets/:id',
    {
      schema: {
        tags: ['datasets'],
        summary: 'A dataset and its report',
        params: DatasetParamsSchema,
        response: { 200: { $ref: 'Dataset#' }, 404: problemResponse('No such dataset') },
      },
    },
    async (request) => app.datasets.get(request.params.id),
  );

  app.delete(
    '/datasets/:id',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Delete a dataset (refused while a queued or running job uses it)',
        params: DatasetParamsSchema,
        response: {
          204: { type: 'null', description: 'Deleted' },
          404: problemResponse('No such dataset'),
          409: problemResponse('A queued or running job uses it'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await app.datasets.get(id);
      const jobs = [
        ...(await app.jobs.activeJobsUsingDataset(id)),
        ...(await app.batchJobs.activeJobsUsingDataset(id)),
      ];
      if (jobs.length > 0) {
        throw new ConflictError(`dataset '${id}' is used by queued or running jobs: ${jobs.join(', ')}`, { jobs });
      }
      await app.datasets.delete(id);
      return reply.code(204).send(null);
    },
  );
};

export default datasetRoutes;
