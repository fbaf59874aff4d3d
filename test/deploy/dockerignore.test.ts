import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { copies, parseDockerfile, repoRoot } from './dockerfile.js';
import { filesUnder, isIgnored, parseDockerignore, readDockerignore } from './dockerignore.js';

const rules = readDockerignore(repoRoot);

describe('.dockerignore', () => {
  test('keeps dependencies, build output, local state, VCS and secrets out of the build context', () => {
    const mustIgnore = [
      'node_modules/fastify/package.json',
      'web/node_modules/x/index.js',
      'dist/src/server.js',
      '.data/datasets/ds-1/dataset.json',
      '.data/weights/efficientnetb0_notop.h5',
      'scratch/notes.ts',
      '.git/HEAD',
      '.env',
      'docker/.env',
      'coverage/lcov.info',
      'test/config.test.ts',
      'npm-debug.log',
    ];
    for (const file of mustIgnore) assert.ok(isIgnored(rules, file), `${file} is kept out`);
  });

  test('lets in every file the Dockerfiles copy from the context', () => {
    for (const dockerfile of ['docker/Dockerfile', 'docker/Dockerfile.gpu']) {
      const parsed = parseDockerfile(dockerfile);
      const sources = parsed.stages.flatMap((stage) => copies(stage)).filter((copy) => !copy.from);
      assert.ok(sources.length > 0);
      for (const copy of sources) {
        for (const source of copy.sources) {
          assert.ok(fs.existsSync(path.join(repoRoot, source)), `${dockerfile}:${copy.line}: ${source} exists`);
          const blocked = filesUnder(repoRoot, source).filter((file) => isIgnored(rules, file));
          assert.deepEqual(blocked, [], `${dockerfile}:${copy.line} copies ${source}, but .dockerignore drops these`);
        }
      }
    }
  });
});

describe('.dockerignore matching (as Docker does it)', () => {
  test('anchors at the root, matches parents, and honours ** and !', () => {
    const sample = parseDockerignore('# c\nweights\n**/*.h5\ndist\n*.log\n!keep.log\n');
    assert.ok(isIgnored(sample, 'weights/a.txt'));
    assert.ok(!isIgnored(sample, 'src/model/weights/keras-h5.ts'), 'a plain name matches at the root only');
    assert.ok(isIgnored(sample, 'a/b/c.h5'));
    assert.ok(isIgnored(sample, 'c.h5'), '**/ also matches no directory');
    assert.ok(isIgnored(sample, 'dist/src/x.js'));
    assert.ok(isIgnored(sample, 'x.log'));
    assert.ok(!isIgnored(sample, 'a/x.log'), '* stays within one segment');
    assert.ok(!isIgnored(sample, 'keep.log'), 'the last matching rule wins');
  });
});
