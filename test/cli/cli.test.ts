import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { writeShapesDataset } from '../helpers/image-fixtures.js';

// The effnet-tl CLI as users run it: a child process (node --import tsx src/cli/main.ts …).

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const backend = process.env.TEST_TF_BACKEND ?? 'wasm';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], onStderr?: (text: string, signal: (s: NodeJS.Signals) => void) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      onStderr?.(stderr, (s) => child.kill(s));
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe('effnet-tl CLI', () => {
  let dir: string;
  let data: Awaited<ReturnType<typeof writeShapesDataset>>;
  const model = () => path.join(dir, 'model');
  const common = (out: string) => [
    '--arch',
    'b0',
    '--image-size',
    '32',
    '--weights',
    'none',
    '--batch-size',
    '8',
    '--out',
    out,
    '--backend',
    backend,
  ];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'effnet-cli-'));
    data = await writeShapesDataset(path.join(dir, 'data'), { perClass: 8, size: 32, seed: 6 });
  });

  after(() => rm(dir, { recursive: true, force: true }));

  test('train → model dir with metadata, history table on stdout, checkpoint removed', async () => {
    const result = await cli(['train', data.root, '--head-epochs', '1', '--finetune-epochs', '1', ...common(model())]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /phase\s+epoch\s+loss\s+acc\s+val_loss\s+val_acc/);
    assert.match(result.stdout, /^head\s+1\s/m);
    assert.match(result.stdout, /^finetune\s+1\s/m);
    assert.match(result.stdout, /model saved to /);
    assert.match(result.stderr, /finetune epoch 1\/1 {2}loss/, 'plain progress lines when not a TTY');
    const metadata = JSON.parse(await readFile(path.join(model(), 'metadata.json'), 'utf8'));
    assert.deepEqual(metadata.classes, data.classes);
    assert.equal(await exists(`${model()}-checkpoint`), false);
  });

  test('predict prints top-k JSON; an undecodable image is reported and exits 1', async () => {
    const images = [data.train[0]!.path, data.train[10]!.path];
    const ok = await cli(['predict', model(), ...images, '--top-k', '2', '--backend', backend]);
    assert.equal(ok.code, 0, ok.stderr);
    const parsed = JSON.parse(ok.stdout);
    assert.deepEqual(parsed.classes, data.classes);
    assert.equal(parsed.predictions.length, 2);
    for (const p of parsed.predictions) {
      assert.equal(p.top.length, 2);
      assert.ok(p.top[0].probability >= p.top[1].probability);
      assert.ok(data.classes.includes(p.top[0].class));
    }
    const bad = await cli(['predict', model(), images[0]!, path.join(dir, 'missing.png'), '--backend', backend]);
    assert.equal(bad.code, 1);
    const withError = JSON.parse(bad.stdout);
    assert.equal(withError.predictions[0].top.length, 3, 'top-k is capped at the class count');
    assert.match(withError.predictions[1].error, /missing\.png/);
  });

  test('features prints L2-normalised 1280-wide vectors', async () => {
    const result = await cli(['features', model(), data.train[0]!.path, '--normalize', 'l2', '--backend', backend]);
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout);
    assert.equal(parsed.featureDim, 1280);
    const vector: number[] = parsed.features[0].vector;
    assert.equal(vector.length, 1280);
    assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-6);
  });

  test('Ctrl-C saves a checkpoint and exits 130; --resume finishes the run', async () => {
    const out = path.join(dir, 'paused');
    const args = ['train', data.root, '--head-epochs', '1', '--finetune-epochs', '4', ...common(out)];
    let sent = false;
    const stopped = await cli(args, (stderr, kill) => {
      if (!sent && /finetune epoch 1\/4/.test(stderr)) {
        sent = true;
        kill('SIGINT');
      }
    });
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /checkpoint saved/);
    assert.match(stopped.stderr, /--resume/);
    assert.equal(await exists(path.join(`${out}-checkpoint`, 'checkpoint', 'state.json')), true);

    const resumed = await cli([...args, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming/);
    const metadata = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8'));
    assert.equal(metadata.resumed, true);
    assert.deepEqual(
      metadata.history.map((h: { phase: string; epoch: number }) => `${h.phase}${h.epoch}`),
      ['head1', 'finetune1', 'finetune2', 'finetune3', 'finetune4'],
    );
  });

  test('usage errors exit 2 and name the flag', async () => {
    const result = await cli(['train', data.root, '--out', model(), '--image-size', 'big']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--image-size must be an integer/);
    assert.match(result.stderr, /Usage: effnet-tl train/);
    const unknown = await cli(['fit']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'fit'/);
  });
});
