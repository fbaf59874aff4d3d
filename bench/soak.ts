/**
 * `npm run soak`: drives POST /v1/models/{id}/predict on the real service for a fixed time at a fixed
 * concurrency, and checks that memory stays flat: the same tfjs tensor count in every inference child at the
 * end as after warm-up, and RSS (api and children) and wasm heap growth within the bounds. Prints a table,
 * writes the JSON report to --out, and exits 1 when the memory was not flat or a request failed.
 *
 *   npm run soak -- [--duration 30] [--connections 8] [--warmup 5] [--image-size 224] [--images 1]
 *       [--engine onnxruntime|tfjs] [--backend auto|wasm|…] [--max-api-rss-growth 64]
 *       [--max-child-rss-growth 64] [--out bench/results/soak-latest.json]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { backendPreferences, type BackendPreference } from '../src/compute/backend.js';
import { defaultBounds, formatReport } from './soak-report.js';
import { defaultSoakOptions, runSoak } from './soak-run.js';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: String(defaultSoakOptions.durationSeconds) },
    connections: { type: 'string', default: String(defaultSoakOptions.connections) },
    warmup: { type: 'string', default: String(defaultSoakOptions.warmupSeconds) },
    'image-size': { type: 'string', default: String(defaultSoakOptions.imageSize) },
    images: { type: 'string', default: String(defaultSoakOptions.imagesPerRequest) },
    engine: { type: 'string', default: defaultSoakOptions.engine },
    backend: { type: 'string', default: defaultSoakOptions.tfBackend },
    'max-api-rss-growth': { type: 'string', default: String(defaultBounds.apiRssGrowthMiB) },
    'max-child-rss-growth': { type: 'string', default: String(defaultBounds.childRssGrowthMiB) },
    out: { type: 'string', default: 'bench/results/soak-latest.json' },
  },
});

function positive(name: string, value: string, integer = true): number {
  const n = Number(value);
  if (!(n > 0) || (integer && !Number.isInteger(n)))
    throw new Error(`--${name} must be a positive number, got ${value}`);
  return n;
}
if (flags.engine !== 'onnxruntime' && flags.engine !== 'tfjs') throw new Error('--engine is onnxruntime or tfjs');
if (!(backendPreferences as readonly string[]).includes(flags.backend)) {
  throw new Error(`--backend is one of ${backendPreferences.join(', ')}`);
}

const report = await runSoak({
  durationSeconds: positive('duration', flags.duration, false),
  connections: positive('connections', flags.connections),
  warmupSeconds: Number(flags.warmup),
  imageSize: positive('image-size', flags['image-size']),
  imagesPerRequest: positive('images', flags.images),
  engine: flags.engine,
  tfBackend: flags.backend as BackendPreference,
  bounds: {
    apiRssGrowthMiB: positive('max-api-rss-growth', flags['max-api-rss-growth'], false),
    childRssGrowthMiB: positive('max-child-rss-growth', flags['max-child-rss-growth'], false),
  },
  log: (line) => process.stderr.write(`${line}\n`),
});
const out = path.resolve(import.meta.dirname, '..', flags.out);
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(formatReport(report));
console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
if (!report.verdict.flat) process.exitCode = 1;
