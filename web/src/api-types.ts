/**
 * The API's shapes, taken from the server's TypeBox schemas (the single source of truth) as types only:
 * nothing of the server is bundled into the page.
 */
export type { Dataset } from '../../src/schemas/datasets.js';
export type { Job } from '../../src/schemas/jobs.js';
export type { Model } from '../../src/schemas/models.js';
