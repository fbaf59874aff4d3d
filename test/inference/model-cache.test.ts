import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelCache } from '../../src/inference/model-cache.js';

function cache(maxBytes: number) {
  const disposed: string[] = [];
  const models = new ModelCache<{ name: string; bytes: number }>(maxBytes, (m) => disposed.push(m.name));
  return { models, disposed, model: (name: string, bytes: number) => ({ name, bytes }) };
}

test('evicts the least recently used models once their bytes exceed the bound', () => {
  const { models, disposed, model } = cache(250);
  models.set('a', '/a', model('a', 100));
  models.set('b', '/b', model('b', 100));
  assert.equal(models.get('a', '/a')?.name, 'a'); // a is now the most recent
  assert.deepEqual(models.set('c', '/c', model('c', 100)), ['b']);
  assert.deepEqual(disposed, ['b']);
  assert.deepEqual(models.ids(), ['a', 'c']);
  assert.equal(models.bytes, 200);
});

test('a model larger than the bound still stays, alone', () => {
  const { models, disposed, model } = cache(150);
  models.set('a', '/a', model('a', 100));
  assert.deepEqual(models.set('huge', '/h', model('huge', 1000)), ['a']);
  assert.deepEqual(models.ids(), ['huge']);
  assert.deepEqual(disposed, ['a']);
});

test('another artifact dir for the same id is a miss that drops the stale model; peek changes nothing', () => {
  const { models, disposed, model } = cache(1000);
  models.set('a', '/v1', model('a1', 100));
  models.set('b', '/b', model('b', 100));
  assert.equal(models.peek('a', '/v1')?.name, 'a1');
  assert.deepEqual(models.ids(), ['a', 'b'], 'peek does not count as a use');
  assert.equal(models.peek('a', '/v2'), undefined);
  assert.equal(models.get('a', '/v2'), undefined);
  assert.deepEqual(disposed, ['a1']);
  assert.equal(models.bytes, 100);
});

test('delete and clear dispose each model once', () => {
  const { models, disposed, model } = cache(1000);
  models.set('a', '/a', model('a', 1));
  models.set('b', '/b', model('b', 1));
  assert.equal(models.delete('a'), true);
  assert.equal(models.delete('a'), false);
  models.clear();
  assert.deepEqual(disposed, ['a', 'b']);
  assert.equal(models.bytes, 0);
});
