import { randomBytes } from 'node:crypto';

/** Short, URL-safe, unguessable ids with a prefix that says what they name (ds-…, job-…, mdl-…). */
export function newId(prefix: 'ds' | 'job' | 'mdl'): string {
  return `${prefix}-${randomBytes(9).toString('base64url')}`;
}
