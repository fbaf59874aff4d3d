import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  composePath,
  durationMs,
  interpolate,
  loadCompose,
  MissingComposeVariableError,
  serviceEnvironment,
  volumeMounts,
  type ComposeService,
} from './compose-file.js';
import { execForm, finalStage, instructions, parseDockerfile, repoRoot } from './dockerfile.js';

const compose = loadCompose();
const services = compose.services;
const appServices = ['api', 'worker-gpu', 'worker-cpu', 'worker-inference'];
const workers = ['worker-gpu', 'worker-cpu', 'worker-inference'];
const vars = { API_KEYS: 'test-key' };

function service(name: string): ComposeService {
  const found = services[name];
  assert.ok(found, `docker/compose.yaml has no service '${name}'`);
  return found;
}

/** The `delay` given to close-with-grace in a source file: how long the process may take to shut down. */
function graceDelayMs(file: string): number {
  const source = fs.readFileSync(path.join(repoRoot, file), 'utf8');
  const match = /closeWithGrace\(\s*\{\s*delay:\s*([\d_]+)/.exec(source);
  assert.ok(match, `${file} no longer calls closeWithGrace({ delay: … })`);
  return Number(match[1]!.replace(/_/g, ''));
}

describe('docker/compose.yaml', () => {
  test('has Redis, the api, a GPU and a CPU worker, each in its own profile, and an inference worker in both', () => {
    assert.deepEqual(Object.keys(services).sort(), ['api', 'redis', 'worker-cpu', 'worker-gpu', 'worker-inference']);
    assert.equal(service('redis').profiles, undefined, 'Redis always starts');
    assert.equal(service('api').profiles, undefined, 'the api always starts');
    assert.deepEqual(service('worker-gpu').profiles, ['gpu']);
    assert.deepEqual(service('worker-cpu').profiles, ['cpu']);
    assert.deepEqual(service('worker-inference').profiles, ['cpu', 'gpu']);
  });

  test('Redis keeps an AOF on a named volume, never evicts, and has a health check', () => {
    const redis = service('redis');
    assert.match(redis.image ?? '', /^redis:7\.\d+(\.\d+)?(-[a-z0-9.]+)?$/, 'a pinned Redis 7 minor line');
    const command = redis.command ?? [];
    assert.equal(command[command.indexOf('--appendonly') + 1], 'yes', '--appendonly yes');
    assert.equal(command[command.indexOf('--maxmemory-policy') + 1], 'noeviction', 'BullMQ needs noeviction');
    const [dataMount] = volumeMounts(redis).filter((mount) => mount.target === '/data');
    assert.ok(dataMount, 'Redis data at /data');
    assert.ok(compose.volumes && dataMount.source in compose.volumes, `'${dataMount.source}' is a named volume`);
    assert.ok(redis.healthcheck?.test.join(' ').includes('ping'));
    assert.equal(redis.ports, undefined, 'Redis is not published on the host');
  });

  test('every service restarts unless stopped and has a health check', () => {
    for (const [name, svc] of Object.entries(services)) {
      assert.equal(svc.restart, 'unless-stopped', name);
      assert.ok(svc.healthcheck && svc.healthcheck.test.length > 1, `${name} has a health check`);
    }
  });

  test('the api and the workers wait for a healthy Redis and share the data volume at DATA_DIR', () => {
    for (const name of appServices) {
      const svc = service(name);
      assert.deepEqual(svc.depends_on?.redis, { condition: 'service_healthy' }, name);
      const env = serviceEnvironment(svc, vars);
      const dataMount = volumeMounts(svc, vars).find((mount) => mount.target === env.DATA_DIR);
      assert.ok(dataMount, `${name} mounts a volume at DATA_DIR=${env.DATA_DIR}`);
      assert.equal(dataMount.source, 'data', `${name} uses the shared 'data' volume`);
      assert.ok(!dataMount.readOnly, `${name} writes DATA_DIR`);
      assert.equal(env.REDIS_URL, 'redis://redis:6379', name);
    }
    assert.ok(compose.volumes && 'data' in compose.volumes && 'redis-data' in compose.volumes);
  });

  test('the weights are mounted read-only at WEIGHTS_DIR', () => {
    for (const name of appServices) {
      const svc = service(name);
      const env = serviceEnvironment(svc, vars);
      const mount = volumeMounts(svc, vars).find((m) => m.target === env.WEIGHTS_DIR);
      assert.ok(mount, `${name} mounts WEIGHTS_DIR=${env.WEIGHTS_DIR}`);
      assert.ok(mount.readOnly, `${name} mounts the weights read-only`);
    }
  });

  test('the api publishes the port its image exposes and cannot start without API_KEYS', () => {
    const api = service('api');
    const exposed = instructions(finalStage(parseDockerfile('docker/Dockerfile')), 'EXPOSE').map((i) => i.args);
    const published = (api.ports ?? []).map((spec) => interpolate(spec, {}).split(':').at(-1));
    assert.deepEqual(published, exposed);
    assert.throws(
      () => serviceEnvironment(api, {}),
      (error) => error instanceof MissingComposeVariableError && error.variable === 'API_KEYS',
    );
    assert.equal(serviceEnvironment(api, { API_KEYS: 'k1,k2' }).API_KEYS, 'k1,k2');
  });

  test('the GPU worker reserves one NVIDIA GPU and runs one job at a time on it', () => {
    const gpu = service('worker-gpu');
    const devices = gpu.deploy?.resources?.reservations?.devices ?? [];
    assert.equal(devices.length, 1);
    assert.equal(devices[0]!.driver, 'nvidia');
    assert.equal(devices[0]!.count, 1);
    assert.deepEqual(devices[0]!.capabilities, ['gpu']);
    const env = serviceEnvironment(gpu, vars);
    assert.equal(env.WORKER_CONCURRENCY, '1');
    assert.equal(env.TF_BACKEND, 'node-gpu');
    assert.equal(gpu.build?.dockerfile, 'docker/Dockerfile.gpu');
  });

  test('the CPU worker runs the compiled worker from the api image on the native CPU backend', () => {
    const cpu = service('worker-cpu');
    assert.deepEqual(cpu.command, ['node', 'dist/workers/training-worker.js']);
    assert.equal(cpu.image, service('api').image);
    assert.equal(cpu.build?.dockerfile, 'docker/Dockerfile');
    assert.equal(serviceEnvironment(cpu, vars).TF_BACKEND, 'node');
  });

  test('the inference worker runs the compiled inference worker from the api image', () => {
    const inference = service('worker-inference');
    assert.deepEqual(inference.command, ['node', 'dist/workers/inference-worker.js']);
    assert.equal(inference.image, service('api').image);
    assert.equal(serviceEnvironment(inference, vars).TF_BACKEND, 'node');
  });

  test('Docker waits longer than each process takes to shut down gracefully', () => {
    // Both worker entries (training and inference) close through runWorkerProcess.
    const workerDelay = graceDelayMs('workers/run-worker-process.ts');
    for (const name of workers) {
      const grace = durationMs(service(name).stop_grace_period ?? '10s');
      assert.ok(grace > workerDelay, `${name}: stop_grace_period ${grace} ms <= worker's ${workerDelay} ms`);
    }
    const apiGrace = durationMs(service('api').stop_grace_period ?? '10s');
    assert.ok(apiGrace > graceDelayMs('src/server.ts'), `api: stop_grace_period ${apiGrace} ms too short`);
  });

  test('health checks run scripts the images contain', () => {
    const images = {
      'docker/Dockerfile': ['api', 'worker-cpu', 'worker-inference'],
      'docker/Dockerfile.gpu': ['worker-gpu'],
    };
    for (const [dockerfile, names] of Object.entries(images)) {
      const stage = finalStage(parseDockerfile(dockerfile));
      const copied = instructions(stage, 'COPY').map((i) => i.args);
      for (const name of names) {
        const [command, ...rest] = service(name).healthcheck!.test;
        assert.equal(command, 'CMD', `${name}: exec form, no shell needed`);
        const script = rest.find((word) => word.endsWith('.mjs'));
        assert.ok(script, `${name} runs a health check script`);
        assert.ok(fs.existsSync(path.join(repoRoot, script)), `${script} exists`);
        assert.ok(
          copied.some((args) => args.includes(script)),
          `${dockerfile} copies ${script}`,
        );
      }
      const imageCheck = instructions(stage, 'HEALTHCHECK')[0];
      assert.ok(imageCheck, `${dockerfile} has a HEALTHCHECK`);
      assert.ok(fs.existsSync(path.join(repoRoot, execForm(imageCheck).at(-1)!)));
    }
  });

  test('build contexts are the repository root and name existing Dockerfiles', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (!svc.build) continue;
      assert.equal(path.resolve(path.dirname(composePath), svc.build.context), repoRoot, name);
      assert.ok(fs.existsSync(path.join(repoRoot, svc.build.dockerfile ?? 'Dockerfile')), name);
    }
  });
});

describe('compose interpolation (as the tests read it)', () => {
  test('defaults, required variables and escapes', () => {
    assert.equal(interpolate('${A:-x}', {}), 'x');
    assert.equal(interpolate('${A:-x}', { A: '' }), 'x');
    assert.equal(interpolate('${A-x}', { A: '' }), '');
    assert.equal(interpolate('$$A ${B}', { B: 'b' }), '$A b');
    assert.throws(() => interpolate('${A:?need A}', { A: '' }), MissingComposeVariableError);
    assert.equal(durationMs('1m30s'), 90_000);
  });
});
