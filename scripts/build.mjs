/* global console */
// npm run build [-- --outDir DIR]: compile src/ and workers/ with tsc, then copy the run-time files tsc does not
// emit (every non-TypeScript file under src/ and workers/, e.g. src/onnx/onnx.proto), so that
// `node DIR/src/server.js` and `node DIR/workers/training-worker.js` run without the source tree; then build the
// dashboard (web/) into DIR/web/dist.
// Plain JavaScript so it runs under bare node, before anything is compiled.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';

const root = path.resolve(import.meta.dirname, '..');
const sourceRoots = ['src', 'workers'];

function outDirArgument(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--outDir' && argv[i + 1]) return argv[i + 1];
    if (argv[i].startsWith('--outDir=')) return argv[i].slice('--outDir='.length);
  }
  if (argv.length > 0) throw new Error(`usage: build.mjs [--outDir DIR]; got ${argv.join(' ')}`);
  return 'dist';
}

function* assetFiles(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* assetFiles(file);
    else if (entry.isFile() && !entry.name.endsWith('.ts')) yield file;
  }
}

const outDir = path.resolve(process.cwd(), outDirArgument(process.argv.slice(2)));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', outDir], {
    stdio: 'inherit',
  });
} catch (error) {
  // tsc has printed its diagnostics; keep its exit status, skip the stack trace.
  process.exit(error.status ?? 1);
}
let copied = 0;
for (const sourceRoot of sourceRoots) {
  for (const file of assetFiles(path.join(root, sourceRoot))) {
    const target = path.join(outDir, path.relative(root, file));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(file, target);
    copied++;
  }
}
// The dashboard's static assets, where src/routes/dashboard.ts looks for them from DIR/src/routes/: DIR/web/dist.
try {
  execFileSync(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'web/build-dashboard.ts'), '--outDir', path.join(outDir, 'web/dist')],
    { stdio: 'inherit', cwd: root },
  );
} catch (error) {
  process.exit(error.status ?? 1);
}
const shown = path.relative(process.cwd(), outDir);
console.log(`built ${shown.startsWith('..') ? outDir : shown || '.'} (${copied} asset file(s) copied)`);
