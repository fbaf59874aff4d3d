import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFoundError } from '../errors/domain-error.js';
import { architectures, getArchitecture, UnknownArchitectureError } from '../model/architectures.js';
import { phaseSummaries } from '../model/parameter-summary.js';
import {
  ArchitectureListSchema,
  ArchitectureParamsSchema,
  PhaseSummariesSchema,
  PhaseSummaryQuerySchema,
} from '../schemas/architectures.js';
import { problemResponse } from '../schemas/problem.js';

const architectureRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/architectures',
    {
      schema: {
        tags: ['architectures'],
        summary: 'The EfficientNet variants a job can train',
        response: { 200: ArchitectureListSchema },
      },
    },
    async () => ({
      architectures: architectures.map((a) => ({
        name: a.name,
        defaultImageSize: a.defaultImageSize,
        featureDim: a.featureDim,
        baseParams: a.baseParams,
      })),
    }),
  );

  app.get(
    '/architectures/:name',
    {
      schema: {
        tags: ['architectures'],
        summary: "Parameter counts per phase of the two-phase schedule, as Keras' model.summary() reports them",
        params: ArchitectureParamsSchema,
        querystring: PhaseSummaryQuerySchema,
        response: { 200: PhaseSummariesSchema, 404: problemResponse('Unknown architecture') },
      },
    },
    async (request) => {
      let spec;
      try {
        spec = getArchitecture(request.params.name);
      } catch (error) {
        if (error instanceof UnknownArchitectureError) throw new NotFoundError('architecture', request.params.name);
        throw error;
      }
      const { numClasses, headBnMode, unfreeze } = request.query;
      const summaries = phaseSummaries(spec, numClasses, { headBnMode, unfreeze });
      return { name: spec.name, numClasses, ...summaries };
    },
  );
};

export default architectureRoutes;
