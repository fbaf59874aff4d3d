import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  CreatedJobSchema,
  CreateJobBodySchema,
  IdempotencyHeadersSchema,
  JobListQuerySchema,
  JobListSchema,
  JobParamsSchema,
  type Job,
} from '../schemas/jobs.js';
import { problemResponse } from '../schemas/problem.js';
import { resolveTrainingConfig } from '../schemas/training-config.js';
import { jobOwner } from '../services/active-job-limit.js';
import { hasImagenetWeights } from '../training/model-setup.js';

const terminal = new Set<Job['status']>(['completed', 'failed', 'cancelled']);

const jobRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Start a two-phase training job',
        headers: IdempotencyHeadersSchema,
        body: CreateJobBodySchema,
        response: {
          202: CreatedJobSchema,
          400: problemResponse('Invalid configuration'),
          404: problemResponse('No such dataset'),
          409: problemResponse('Idempotency-Key reused with another body'),
          429: problemResponse(
            'More jobs than RATE_LIMIT_JOBS per minute, or JOBS_MAX_ACTIVE_PER_KEY queued or running already',
          ),
        },
      },
      config: { rateLimit: { max: app.config.limits.jobsPerMinute, timeWindow: 60_000 } },
    },
    async (request, reply) => {
      const body = request.body;
      const dataset = await app.datasets.get(body.datasetId);
      const { datasetId: _datasetId, ...config } = body;
      const imagenetWeightsAvailable =
        (config.weights ?? 'imagenet') === 'imagenet'
          ? await hasImagenetWeights(app.config.weightsDir, config.architecture)
          : undefined;
      const { limits } = app.config;
      resolveTrainingConfig(config, {
        numClasses: dataset.classes.length,
        imagenetWeightsAvailable,
        maxImageSize: limits.jobImageSize,
        maxEpochs: limits.jobEpochs,
      });
      const { id } = await app.jobs.create(body, {
        idempotencyKey: request.headers['idempotency-key'],
        owner: jobOwner(request, app.config.apiKeys.length > 0),
      });
      return reply
        .code(202)
        .header('location', `/v1/jobs/${id}`)
        .send({ id, status: 'queued' as const });
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Jobs, newest first, optionally by status',
        querystring: JobListQuerySchema,
        response: { 200: JobListSchema },
      },
    },
    async (request) => app.jobs.list(request.query),
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'A job: status, phase, epoch, history and its model when completed',
        params: JobParamsSchema,
        response: { 200: { $ref: 'Job#' }, 404: problemResponse('No such job') },
      },
    },
    async (request) => app.jobs.get(request.params.id),
  );

  app.post(
    '/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued job at once, or a running one within a batch; it registers no model',
        params: JobParamsSchema,
        response: {
          202: { $ref: 'Job#' },
          404: problemResponse('No such job'),
          409: problemResponse('The job already ended'),
        },
      },
    },
    async (request, reply) => reply.code(202).send(await app.jobs.cancel(request.params.id)),
  );

  app.get(
    '/jobs/:id/events',
    {
      schema: {
        tags: ['jobs'],
        summary:
          'Server-sent events: the job object on every change (stage, phase, batch, epoch, status) until it ends',
        params: JobParamsSchema,
        produces: ['text/event-stream'],
        response: {
          200: { type: 'string', description: 'text/event-stream; each event carries the Job object as data' },
          404: problemResponse('No such job'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      let last = await app.jobs.get(id);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const send = (event: string, job: Job) => raw.write(`event: ${event}\ndata: ${JSON.stringify(job)}\n\n`);
      send('status', last);
      if (terminal.has(last.status)) {
        raw.end();
        return;
      }
      await new Promise<void>((resolve) => {
        let closed = false;
        let pending = Promise.resolve();
        const finish = () => {
          if (closed) return;
          closed = true;
          unsubscribe();
          clearInterval(heartbeat);
          clearInterval(poll);
          raw.end();
          resolve();
        };
        // Events trigger a re-read; a slow poll covers anything missed (e.g. a cancel flag set by the api).
        const refresh = (hint?: string) => {
          pending = pending.then(async () => {
            if (closed) return;
            const job = await app.jobs.get(id).catch(() => undefined);
            if (!job) return finish();
            const changed = JSON.stringify(job) !== JSON.stringify(last);
            if (changed) send(eventName(job, last, hint), job);
            last = job;
            if (terminal.has(job.status)) {
              raw.write(`event: end\ndata: ${JSON.stringify({ status: job.status })}\n\n`);
              finish();
            }
          });
        };
        const unsubscribe = app.jobEvents.subscribe(id, (event) => refresh(event));
        const poll = setInterval(() => refresh(), 2000);
        const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15000);
        raw.on('close', finish);
        refresh();
      });
    },
  );
};

/** Names an update by what changed, so clients can subscribe to just epochs or just status changes. */
function eventName(job: Job, previous: Job, hint?: string): string {
  if (job.status !== previous.status) return 'status';
  if (job.history.length !== previous.history.length) return 'epoch';
  if (job.phase !== previous.phase) return 'phase';
  return hint === 'progress' ? 'progress' : 'status';
}

export default jobRoutes;
