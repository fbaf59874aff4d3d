import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { weightsShardFileName } from '../../src/model/tfjs-file-io.js';
import { build } from '../helpers/build-app.js';
import { encodeSolid } from '../helpers/image-fixtures.js';
import { writeModelFixture } from '../helpers/model-fixture.js';
import { useTestBackend } from '../helpers/tf-backend.js';

interface Problem {
  status: number;
  title: string;
  detail: string;
  modelId?: string;
}

test('a truncated weights shard: /predict and /features answer a clear problem, other models keep serving', async (t) => {
  await useTestBackend();
  const app = await build(t);
  const dataDir = app.config.dataDir;
  const good = await writeModelFixture(dataDir, { id: 'mdl-good' });
  const truncated = await writeModelFixture(dataDir, { id: 'mdl-truncated' });
  const garbled = await writeModelFixture(dataDir, { id: 'mdl-garbled' });
  // A copy cut short (a full disk, an interrupted rsync) and a model.json overwritten with junk.
  const shard = path.join(dataDir, 'models', truncated, weightsShardFileName);
  const bytes = await fs.readFile(shard);
  await fs.writeFile(shard, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await fs.writeFile(path.join(dataDir, 'models', garbled, 'model.json'), '{"modelTopology": ');

  const image = (await encodeSolid([200, 40, 40])).toString('base64');
  const call = (id: string, kind: 'predict' | 'features') =>
    app.inject({
      method: 'POST',
      url: `/v1/models/${id}/${kind}`,
      payload: { instances: [{ b64: image }] },
    });

  for (const broken of [truncated, garbled]) {
    for (const kind of ['predict', 'features'] as const) {
      const started = performance.now();
      const res = await call(broken, kind);
      const ms = performance.now() - started;
      assert.ok(ms < 20_000, `answered in ${ms} ms, not hung`);
      assert.equal(res.statusCode, 500, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
      const problem = res.json<Problem>();
      assert.equal(problem.title, 'Model Load Failed');
      assert.match(problem.detail, new RegExp(`model '${broken}' could not be loaded`));
      assert.equal(problem.modelId, broken);
      // The cause (with server paths) is for the log, not the client.
      assert.doesNotMatch(problem.detail, new RegExp(dataDir.replaceAll('/', '\\/')));
      // A healthy model on the same pool answers right after.
      const ok = await call(good, kind);
      assert.equal(ok.statusCode, 200, ok.body);
    }
  }
  const predicted = (await call(good, 'predict')).json<{ predictions: Array<{ label: string }> }>();
  assert.equal(predicted.predictions.length, 1);
  assert.equal(app.inference.stats().restarts, 0, 'no inference child crashed');
  assert.deepEqual(app.inference.stats().loadedModels, [good]);
});
