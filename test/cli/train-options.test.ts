import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CliUsageError } from '../../src/cli/cli-errors.js';
import { parseTrainArgs } from '../../src/cli/train-options.js';

describe('effnet-tl train flags', () => {
  test('map onto the training config, with the CLI-only short architecture names', () => {
    const options = parseTrainArgs(
      'data --arch b3 --image-size 96 --head-epochs 2 --finetune-epochs 5 --head-lr 0.002 --finetune-lr 1e-4 --batch-size 8 --bn-mode train --unfreeze block6a --weights none --seed 7 --no-augment --val-split 0.25 --patience 2 --out model --resume --backend wasm'.split(
        ' ',
      ),
      {},
    );
    assert.equal(options.datasetDir, path.resolve('data'));
    assert.equal(options.outputDir, path.resolve('model'));
    assert.equal(options.workDir, path.resolve('model-checkpoint'));
    assert.equal(options.weightsDir, path.resolve('weights'));
    assert.equal(options.resume, true);
    assert.equal(options.backend, 'wasm');
    assert.deepEqual(options.config, {
      architecture: 'efficientnet-b3',
      weights: 'none',
      imageSize: 96,
      validationSplit: 0.25,
      seed: 7,
      augmentation: false,
      head: { epochs: 2, batchSize: 8, learningRate: 0.002, bnMode: 'train' },
      finetune: {
        epochs: 5,
        batchSize: 8,
        learningRate: 1e-4,
        bnMode: 'train',
        unfreeze: 'block6a',
        earlyStopping: { patience: 2, minDelta: 0 },
      },
    });
  });

  test('defaults: b0, head only, WEIGHTS_DIR from the environment', () => {
    const options = parseTrainArgs(['data', '--out', 'm'], { WEIGHTS_DIR: '/srv/weights' });
    assert.equal(options.config.architecture, 'efficientnet-b0');
    assert.equal(options.config.head.epochs, 3);
    assert.equal(options.config.finetune, false);
    assert.equal(options.weightsDir, '/srv/weights');
  });

  const rejects = (args: string, pattern: RegExp) =>
    assert.throws(
      () => parseTrainArgs(args.split(' '), {}),
      (e: unknown) => e instanceof CliUsageError && pattern.test(e.message),
    );

  test('bad flags are usage errors naming the flag', () => {
    rejects('data', /--out/);
    rejects('--out m', /dataset-dir/);
    rejects('data --out m --arch b9', /--arch.*b9/);
    rejects('data --out m --image-size 12abc', /--image-size must be an integer/);
    rejects('data --out m --image-size 16', /--image-size: .*32/);
    rejects('data --out m --batch-size big', /--batch-size/);
    rejects('data --out m --bn-mode frozen', /--bn-mode must be one of inference, train/);
    rejects('data --out m --finetune-epochs 2 --unfreeze block9a', /--unfreeze/);
    rejects('data --out m --backend tpu', /--backend/);
    rejects('data --out m --colour', /Unknown option '--colour'/);
  });
});
