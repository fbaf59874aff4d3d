import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ArchitectureSummarySchema, ParameterCountsSchema } from '../schemas/architectures.js';
import { DatasetSchema } from '../schemas/datasets.js';
import { JobSchema } from '../schemas/jobs.js';
import { ModelSchema } from '../schemas/models.js';
import { ProblemSchema } from '../schemas/problem.js';

/** Schemas with an $id, referenced across routes and named in openapi.yaml's components. */
export default fp(
  async function sharedSchemas(app: FastifyInstance) {
    for (const schema of [
      ProblemSchema,
      ParameterCountsSchema,
      ArchitectureSummarySchema,
      DatasetSchema,
      JobSchema,
      ModelSchema,
    ]) {
      app.addSchema(schema);
    }
  },
  { name: 'shared-schemas' },
);
