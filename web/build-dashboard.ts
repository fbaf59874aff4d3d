/**
 * Builds the dashboard (web/) into static assets with Vite's JavaScript API.
 *
 *   node --import tsx web/build-dashboard.ts [--if-stale] [--outDir DIR]
 *
 * `--if-stale` skips the build when DIR already holds a build of the current sources: `npm start` runs it as a
 * prestart step, so a fresh clone serves the dashboard without a separate build command. Staleness is a hash of
 * the sources (not mtimes, which a checkout resets), stored beside the output. The build goes to a temporary
 * directory first and is renamed into place, so a server never serves half a build.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const webRoot = import.meta.dirname;
export const defaultOutDir = path.join(webRoot, 'dist');
const stampFile = 'build-stamp.json';
const skipped = new Set(['dist', 'node_modules']);

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (skipped.has(entry.name) || entry.name.startsWith('.')) continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(file);
    else if (entry.isFile()) yield file;
  }
}

/** The installed Vite's version, or undefined without it (`npm ci --omit=dev`: it is a dev dependency). */
function viteVersion(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('vite/package.json');
    return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** A hash of every source file under web/ (paths and contents) and of the Vite version that builds them. */
export function sourceHash(): string {
  const hash = createHash('sha256');
  hash.update(viteVersion() ?? 'no vite');
  for (const file of sourceFiles(webRoot)) {
    hash.update(path.relative(webRoot, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/** Whether `outDir` holds a complete build of the current sources. */
export function isFresh(outDir = defaultOutDir): boolean {
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(outDir, stampFile), 'utf8')) as { sourceHash?: string };
    return stamp.sourceHash === sourceHash() && fs.existsSync(path.join(outDir, 'index.html'));
  } catch {
    return false;
  }
}

export interface BuildResult {
  outDir: string;
  built: boolean;
  ms: number;
}

/** Builds into `outDir` (replacing what is there), or only when stale with `ifStale`. */
export async function buildDashboard(outDir = defaultOutDir, { ifStale = false } = {}): Promise<BuildResult> {
  const started = Date.now();
  if (ifStale && isFresh(outDir)) return { outDir, built: false, ms: Date.now() - started };
  const hash = sourceHash();
  const { build } = await import('vite');
  const temporary = `${outDir}.tmp-${randomUUID()}`;
  try {
    await build({
      root: webRoot,
      configFile: path.join(webRoot, 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: temporary, emptyOutDir: true },
    });
    fs.writeFileSync(path.join(temporary, stampFile), JSON.stringify({ sourceHash: hash }) + '\n');
    const previous = `${outDir}.old-${randomUUID()}`;
    if (fs.existsSync(outDir)) fs.renameSync(outDir, previous);
    fs.renameSync(temporary, outDir);
    fs.rmSync(previous, { recursive: true, force: true });
  } finally {
    fs.rmSync(temporary, { recursive: true, force: true });
  }
  return { outDir, built: true, ms: Date.now() - started };
}

function parseArguments(argv: string[]): { outDir: string; ifStale: boolean } {
  let outDir = defaultOutDir;
  let ifStale = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--if-stale') ifStale = true;
    else if (arg === '--outDir' && argv[i + 1]) outDir = path.resolve(argv[++i]!);
    else if (arg.startsWith('--outDir=')) outDir = path.resolve(arg.slice('--outDir='.length));
    else throw new Error(`usage: build-dashboard.ts [--if-stale] [--outDir DIR]; got ${arg}`);
  }
  return { outDir, ifStale };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { outDir, ifStale } = parseArguments(process.argv.slice(2));
  if (ifStale && !viteVersion() && !isFresh(outDir)) {
    // As a prestart step: the service still starts, and `/` says how to build the dashboard.
    console.warn('dashboard not built: Vite is not installed (a dev dependency; run npm ci without --omit=dev)');
    process.exit(0);
  }
  const result = await buildDashboard(outDir, { ifStale });
  const shown = path.relative(process.cwd(), result.outDir) || '.';
  console.log(result.built ? `dashboard built into ${shown} (${result.ms} ms)` : `dashboard in ${shown} is up to date`);
}
