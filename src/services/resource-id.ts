import { randomBytes } from 'node:crypto';

/** Short, URL-safe, unguessable ids with a prefix that says what they name (ds-…, job-…, mdl-…, batch-…). */
export function newId(prefix: 'ds' | 'job' | 'mdl' | 'batch'): string {
  return `${prefix}-${randomBytes(9).toString('base64url')}`;
}
