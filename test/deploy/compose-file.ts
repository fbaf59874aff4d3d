import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './dockerfile.js';

/** The parts of a compose service the deploy tests read. */
export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval?: string; start_period?: string };
  restart?: string;
  stop_grace_period?: string;
  deploy?: {
    resources?: { reservations?: { devices?: Array<{ driver?: string; count?: number; capabilities?: string[] }> } };
  };
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export const composePath = path.join(repoRoot, 'docker/compose.yaml');

/** Parsed with YAML merge keys (`<<:`), which Compose supports and our file uses. */
export function loadCompose(): ComposeFile {
  return parse(fs.readFileSync(composePath, 'utf8'), { merge: true }) as ComposeFile;
}

export class MissingComposeVariableError extends Error {
  constructor(
    readonly variable: string,
    readonly hint: string,
  ) {
    super(`compose variable ${variable} is required: ${hint}`);
    this.name = 'MissingComposeVariableError';
  }
}

/**
 * Compose's interpolation of `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`
 * and `$$`, against `vars` (what the shell or docker/.env would provide).
 */
export function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{(\w+)(?:(:?)([-?])([^}]*))?\}|\$(\w+)/g,
    (match, name?: string, colon?: string, op?: string, word?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare) return vars[bare] ?? '';
      const current = vars[name!];
      const missing = colon ? current === undefined || current === '' : current === undefined;
      if (!op || !missing) return current ?? '';
      if (op === '-') return word!;
      throw new MissingComposeVariableError(name!, word!);
    },
  );
}

/** A service's environment after interpolation, as strings (what the container sees). */
export function serviceEnvironment(
  service: ComposeService,
  vars: Record<string, string | undefined>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(String(value ?? ''), vars)]),
  );
}

/** Compose durations (`90s`, `1m30s`, `500ms`) in milliseconds. */
export function durationMs(duration: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) throw new Error(`bad duration ${duration}`);
  return parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * units[unit!]!, 0);
}

/** `source:target[:mode]` short-syntax volumes as objects, after interpolation (`${X:-y}` holds a colon). */
export function volumeMounts(
  service: ComposeService,
  vars: Record<string, string | undefined> = {},
): Array<{ source: string; target: string; readOnly: boolean }> {
  return (service.volumes ?? []).map((spec) => {
    const [source, target, mode] = interpolate(spec, vars).split(':');
    return { source: source!, target: target!, readOnly: mode === 'ro' };
  });
}
