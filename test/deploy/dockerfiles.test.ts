import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  copies,
  execForm,
  finalStage,
  instructions,
  parseDockerfile,
  repoRoot,
  stageChain,
  stageEnvironment,
  stageNamed,
  type Dockerfile,
} from './dockerfile.js';

const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  engines: { node: string };
};
const lockfile = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version: string }>;
};

const cpu = parseDockerfile('docker/Dockerfile');
const gpu = parseDockerfile('docker/Dockerfile.gpu');

function runs(dockerfile: Dockerfile, stageName: string): string[] {
  return instructions(stageNamed(dockerfile, stageName), 'RUN').map((i) => i.args);
}

/** The stage the final stage copies `what` from (e.g. node_modules, dist). */
function sourceStageOf(dockerfile: Dockerfile, what: RegExp): string {
  const copy = copies(finalStage(dockerfile)).find((c) => c.from && c.sources.some((s) => what.test(s)));
  assert.ok(copy, `${path.basename(dockerfile.file)}: the final stage copies ${what} from another stage`);
  return copy.from!;
}

for (const dockerfile of [cpu, gpu]) {
  const name = path.relative(repoRoot, dockerfile.file);
  describe(name, () => {
    const runtime = finalStage(dockerfile);

    test('is multi-stage, and its runtime stage runs as a non-root user', () => {
      assert.ok(dockerfile.stages.length >= 3, 'build, production deps and runtime stages');
      const users = instructions(runtime, 'USER').map((i) => i.args.trim());
      assert.ok(users.length > 0, 'the runtime stage sets USER');
      assert.ok(!['root', '0', '0:0'].includes(users.at(-1)!), `runs as ${users.at(-1)}`);
      assert.equal(users.at(-1), 'node', 'uid 1000 `node` in both images, so they share volumes');
    });

    test('pins every base image to a version (no latest, no bare name)', () => {
      const stageNames = new Set(dockerfile.stages.map((s) => s.name));
      for (const stage of dockerfile.stages) {
        if (stageNames.has(stage.from)) continue;
        const tag = /^[^:@]+:([^@]+)$/.exec(stage.from)?.[1];
        assert.ok(tag, `${stage.from} has a tag`);
        assert.notEqual(tag, 'latest');
        assert.match(tag, /^\d/, `${stage.from}: the tag starts with a version`);
      }
    });

    test('uses the Node major version package.json allows', () => {
      const major = /^node:(\d+)[.-]/.exec(dockerfile.args.get('NODE_IMAGE') ?? '')?.[1];
      assert.ok(major, 'NODE_IMAGE is an official node image with a version');
      const min = Number(/>=\s*(\d+)/.exec(packageJson.engines.node)?.[1]);
      const below = Number(/<\s*(\d+)/.exec(packageJson.engines.node)?.[1] ?? Infinity);
      assert.ok(Number(major) >= min && Number(major) < below, `node ${major} vs engines ${packageJson.engines.node}`);
    });

    test('compiles with npm run build and runs dist/ with plain node under tini', () => {
      const buildStage = sourceStageOf(dockerfile, /dist$/);
      assert.ok(
        runs(dockerfile, buildStage).some((run) => /\bnpm run build\b/.test(run)),
        `stage ${buildStage} runs npm run build`,
      );
      const cmd = execForm(instructions(runtime, 'CMD').at(-1)!);
      assert.equal(cmd[0], 'node');
      assert.match(cmd[1]!, /^dist\/.+\.js$/);
      assert.ok(!cmd.some((word) => /tsx/.test(word)), 'no tsx at run time');
      assert.deepEqual(execForm(instructions(runtime, 'ENTRYPOINT').at(-1)!), ['/usr/bin/tini', '--']);
      assert.ok(
        runs(dockerfile, runtime.name!).some((run) => /apt-get install .*\btini\b/.test(run)),
        'tini is installed in the runtime stage',
      );
    });

    test('takes node_modules from an npm ci --omit=dev install', () => {
      const depsStage = sourceStageOf(dockerfile, /node_modules$/);
      assert.ok(
        runs(dockerfile, depsStage).some((run) => /\bnpm ci\b/.test(run) && /--omit=dev\b/.test(run)),
        `stage ${depsStage} runs npm ci --omit=dev`,
      );
    });

    test('has an exec-form HEALTHCHECK with an interval, a timeout and a start period', () => {
      const [check, ...more] = instructions(runtime, 'HEALTHCHECK');
      assert.ok(check, 'HEALTHCHECK in the runtime stage');
      assert.equal(more.length, 0);
      for (const option of ['--interval=', '--timeout=', '--start-period=']) assert.ok(check.args.includes(option));
      assert.equal(execForm(check)[0], 'node', 'node runs the check; the image needs no curl');
    });

    test('keeps DATA_DIR and WEIGHTS_DIR at /data and /weights, DATA_DIR owned by the runtime user', () => {
      const env = stageEnvironment(dockerfile, runtime);
      assert.equal(env.get('DATA_DIR'), '/data');
      assert.equal(env.get('WEIGHTS_DIR'), '/weights');
      assert.equal(env.get('NODE_ENV'), 'production');
      assert.ok(runs(dockerfile, runtime.name!).some((run) => /chown node:node \/data\b/.test(run)));
    });
  });
}

describe('docker/Dockerfile (api and CPU worker)', () => {
  const runtime = finalStage(cpu);
  const env = stageEnvironment(cpu, runtime);

  test('serves the api on 0.0.0.0:3000 by default', () => {
    assert.deepEqual(execForm(instructions(runtime, 'CMD').at(-1)!), ['node', 'dist/src/server.js']);
    assert.equal(env.get('HOST'), '0.0.0.0');
    assert.equal(env.get('PORT'), '3000');
    assert.deepEqual(
      instructions(runtime, 'EXPOSE').map((i) => i.args),
      ['3000'],
    );
    assert.match(execForm(instructions(runtime, 'HEALTHCHECK')[0]!).join(' '), /api-healthcheck\.mjs/);
  });

  test('installs libtensorflow for tfjs-node only, and requires it at start', () => {
    const deps = runs(cpu, sourceStageOf(cpu, /node_modules$/)).join('\n');
    assert.match(deps, /--ignore-scripts/);
    assert.match(deps, /npm rebuild @tensorflow\/tfjs-node(\s|$)/);
    assert.doesNotMatch(deps, /tfjs-node-gpu/);
    assert.equal(env.get('TF_BACKEND'), 'node');
  });
});

describe('docker/Dockerfile.gpu (GPU worker)', () => {
  const runtime = finalStage(gpu);
  const env = stageEnvironment(gpu, runtime);

  test('runs on CUDA 11.2 with cuDNN 8, what libtensorflow 2.9 (tfjs-node-gpu 4.x) is built for', () => {
    assert.match(stageChain(gpu, runtime).baseImage, /^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-ubuntu\d+\.\d+$/);
    const locked = lockfile.packages['node_modules/@tensorflow/tfjs-node-gpu']?.version;
    assert.match(locked ?? '', /^4\./, `tfjs-node-gpu ${locked}: re-check its libtensorflow's CUDA before changing`);
  });

  test('downloads the GPU libtensorflow at build time and trains one job at a time on it', () => {
    const deps = runs(gpu, sourceStageOf(gpu, /node_modules$/)).join('\n');
    assert.match(deps, /--ignore-scripts/);
    assert.match(deps, /npm rebuild @tensorflow\/tfjs-node-gpu\b/);
    assert.equal(env.get('TF_BACKEND'), 'node-gpu');
    assert.equal(env.get('WORKER_CONCURRENCY'), '1');
    assert.ok(!env.has('ONNXRUNTIME_NODE_INSTALL'), 'onnxruntime-node CUDA 12 providers cannot load on CUDA 11.2');
  });

  test('runs the compiled worker, checked through its heartbeat', () => {
    assert.deepEqual(execForm(instructions(runtime, 'CMD').at(-1)!), ['node', 'dist/workers/training-worker.js']);
    assert.match(execForm(instructions(runtime, 'HEALTHCHECK')[0]!).join(' '), /worker-healthcheck\.mjs/);
    assert.ok(env.get('WORKER_HEARTBEAT_FILE'), 'the worker writes the heartbeat the check reads');
    assert.equal(instructions(runtime, 'EXPOSE').length, 0, 'a worker serves no port');
  });

  test('creates its user with uid 1000, like the node image', () => {
    assert.ok(runs(gpu, runtime.name!).some((run) => /useradd --uid 1000 .*\bnode\b/.test(run)));
  });

  test('copies node itself from the same official image the other stages use', () => {
    const nodeStage = stageNamed(gpu, 'node');
    assert.equal(nodeStage.from, gpu.args.get('NODE_IMAGE'));
    const chain = stageChain(gpu, runtime).stages;
    const nodeCopies = chain.flatMap((stage) => copies(stage)).filter((c) => c.from === 'node');
    assert.ok(nodeCopies.some((c) => c.sources.includes('/usr/local/bin/node')));
  });
});
