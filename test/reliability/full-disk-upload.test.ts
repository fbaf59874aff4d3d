import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { buildApp, type App } from '../../src/app.js';
import { zipDirectory } from '../data/archive-fixtures.js';
import { testConfig } from '../helpers/build-app.js';
import { writeShapesDataset } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const TMPFS_BYTES = 8 * 1024 * 1024;

interface Problem {
  status: number;
  title: string;
  detail: string;
}

/** Mounts a tmpfs of `bytes` on `dir`; the reason it cannot (not root, no mount) otherwise. */
async function mountTmpfs(dir: string, bytes: number): Promise<string | undefined> {
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
    return undefined;
  } catch (error) {
    const { stderr, code } = error as { stderr?: string; code?: string | number };
    return `cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): ${String(stderr ?? code).trim()}`;
  }
}

async function upload(base: string, archive: Buffer, filename = 'data.zip') {
  const form = new FormData();
  form.append('file', new Blob([archive]), filename);
  const res = await fetch(`${base}/v1/datasets`, { method: 'POST', body: form });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** True if the app closed within `ms` (a connection stuck half-read keeps close() waiting). */
function closeWithin(app: App, ms: number): Promise<boolean> {
  return Promise.race([app.close().then(() => true), sleep(ms).then(() => false)]);
}

/** Every entry under DATA_DIR/<sub>, relative to it. */
async function leftovers(dataDir: string, sub: string): Promise<string[]> {
  const entries = await fs.readdir(path.join(dataDir, sub), { recursive: true }).catch(() => []);
  return entries.map(String);
}

test('the disk fills during an upload: a clean problem, nothing left behind, the api serves on', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'effnet-tmpfs-'));
  const unmountable = await mountTmpfs(dataDir, TMPFS_BYTES);
  if (unmountable) {
    await fs.rmdir(dataDir);
    t.skip(unmountable);
    return;
  }
  let app: App | undefined;
  // One hook, so the order is sure: the api lets go of DATA_DIR, then it is unmounted and removed.
  t.after(async () => {
    if (app) await closeWithin(app, 10_000);
    await run('umount', [dataDir]).catch(() => run('umount', ['-l', dataDir]));
    await fs.rmdir(dataDir);
  });
  const config = await testConfig(t, { DATA_DIR: dataDir });
  app = await buildApp({ config, logger: false });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const work = await tempDir(t, 'effnet-disk-');

  // Incompressible bytes, so archive size = disk use. 1) The upload itself does not fit.
  const huge = Buffer.concat([Buffer.from('PK\x03\x04'), randomBytes(TMPFS_BYTES + 2 * 1024 * 1024)]);
  // 2) The archive fits (5 MiB) but not once more extracted beside it.
  const classes = path.join(work, 'noise');
  for (const name of ['a', 'b']) {
    await fs.mkdir(path.join(classes, name), { recursive: true });
    for (let i = 0; i < 5; i++) await fs.writeFile(path.join(classes, name, `${i}.png`), randomBytes(512 * 1024));
  }
  await zipDirectory(classes, path.join(work, 'noise.zip'));
  const extractsTooBig = await fs.readFile(path.join(work, 'noise.zip'));

  for (const [what, archive] of [
    ['an upload larger than the disk', huge],
    ['an archive that fits but its extraction does not', extractsTooBig],
  ] as const) {
    const res = await upload(base, archive);
    t.diagnostic(`${what}: ${res.status} ${res.body}`);
    assert.ok(res.status >= 400 && res.status < 600, `${what}: ${res.status}`);
    assert.match(res.type, /^application\/problem\+json/, what);
    const problem = JSON.parse(res.body) as Problem;
    assert.equal(problem.status, 507, `${what}: ${res.body}`);
    assert.match(problem.detail, /no space left/i, what);
    assert.deepEqual(await leftovers(dataDir, 'datasets'), [], `${what}: no dataset was created`);
    assert.deepEqual(await leftovers(dataDir, 'tmp'), [], `${what}: its temporary files were removed`);
  }

  // The disk is free again and the api still takes (and lists) a dataset that fits.
  await writeShapesDataset(path.join(work, 'shapes'), { classes: 2, perClass: 4, size: 32 });
  await zipDirectory(path.join(work, 'shapes'), path.join(work, 'shapes.zip'));
  const fits = await upload(base, await fs.readFile(path.join(work, 'shapes.zip')));
  assert.equal(fits.status, 201, fits.body);
  const listed = (await (await fetch(`${base}/v1/datasets`)).json()) as { datasets: Array<{ id: string }> };
  assert.equal(listed.datasets.length, 1);
  assert.equal((await fetch(`${base}/health`)).status, 200);

  // No connection of a failed upload is left half-read: the api can still shut down gracefully.
  const closing = closeWithin(app, 10_000);
  app = undefined;
  assert.ok(await closing, 'app.close() finished within 10 s');
});
