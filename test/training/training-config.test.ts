import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { resolveTrainingConfig, TrainingConfigError, TrainingConfigSchema } from '../../src/schemas/training-config.js';

// src/schemas/training-config.ts (kept with the trainer's tests, whose config it is).

function problemsOf(raw: unknown, context = {}): string[] {
  try {
    resolveTrainingConfig(raw, context);
  } catch (error) {
    if (error instanceof TrainingConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('TrainingConfig schema and resolveTrainingConfig', () => {
  test('the smallest config gets the Keras defaults (ImageNet weights)', () => {
    const config = resolveTrainingConfig({ architecture: 'efficientnet-b3', head: { epochs: 5 } });
    assert.deepEqual(config, {
      architecture: 'efficientnet-b3',
      weights: 'imagenet',
      imageSize: 300,
      validationSplit: 0.2,
      seed: 42,
      augmentation: { flip: true, rotation: 0.15, translation: 0.1, contrast: 0.1 },
      head: { epochs: 5, batchSize: 'auto', learningRate: 1e-3, bnMode: 'inference' },
      finetune: false,
    });
  });

  test('finetune defaults depend on the weights: 1e-5/inference with ImageNet, 3e-3/train from scratch', () => {
    const imagenet = resolveTrainingConfig({
      architecture: 'efficientnet-b0',
      head: { epochs: 1 },
      finetune: { epochs: 2 },
    });
    assert.deepEqual(imagenet.finetune, {
      epochs: 2,
      batchSize: 'auto',
      learningRate: 1e-5,
      bnMode: 'inference',
      unfreeze: 'all',
      earlyStopping: { patience: 3, minDelta: 0 },
    });
    const scratch = resolveTrainingConfig({
      architecture: 'efficientnet-b0',
      weights: 'none',
      head: { epochs: 1 },
      finetune: { epochs: 2, earlyStopping: false, unfreeze: 'block6a' },
      augmentation: { flip: false },
    });
    assert.equal(scratch.head.bnMode, 'train');
    assert.equal(scratch.finetune && scratch.finetune.learningRate, 3e-3);
    assert.equal(scratch.finetune && scratch.finetune.bnMode, 'train');
    assert.equal(scratch.finetune && scratch.finetune.earlyStopping, false);
    assert.deepEqual(scratch.augmentation, { flip: false, rotation: 0.15, translation: 0.1, contrast: 0.1 });
  });

  test('a resolved config resolves to itself', () => {
    const once = resolveTrainingConfig({
      architecture: 'efficientnet-b1',
      head: { epochs: 1 },
      finetune: { epochs: 1 },
    });
    assert.deepEqual(resolveTrainingConfig(once), once);
  });

  test('every violation is listed with its path', () => {
    const problems = problemsOf({
      architecture: 'b0',
      imageSize: 16,
      head: { epochs: -1, batchSize: 0 },
      finetune: { epochs: 1, learningRate: 0, unfreeze: 'top' },
      extra: true,
    });
    const text = problems.join('\n');
    assert.match(text, /\/architecture/);
    assert.match(text, /\/imageSize/);
    assert.match(text, /\/head\/epochs/);
    assert.match(text, /\/head\/batchSize: must be an integer from 1 to 1024 or "auto", got 0/);
    assert.match(text, /\/finetune\/learningRate/);
    assert.match(text, /\/finetune\/unfreeze/);
    assert.match(text, /extra/);
  });

  test('a block the architecture lacks, too few classes and missing ImageNet weights are config errors', () => {
    assert.deepEqual(
      problemsOf({
        architecture: 'efficientnet-b0',
        head: { epochs: 1 },
        finetune: { epochs: 1, unfreeze: 'block6e' },
      }),
      ["finetune.unfreeze: efficientnet-b0 has no block 'block6e'"],
    );
    // B7 has a block6e.
    assert.deepEqual(
      problemsOf({
        architecture: 'efficientnet-b7',
        head: { epochs: 1 },
        finetune: { epochs: 1, unfreeze: 'block6e' },
      }),
      [],
    );
    assert.match(
      problemsOf({ architecture: 'efficientnet-b0', head: { epochs: 1 } }, { numClasses: 1 })[0]!,
      /2 classes/,
    );
    const missing = problemsOf(
      { architecture: 'efficientnet-b2', head: { epochs: 1 } },
      { imagenetWeightsAvailable: false },
    );
    assert.match(missing[0]!, /efficientnetb2_notop\.h5 in WEIGHTS_DIR/);
    assert.deepEqual(
      problemsOf(
        { architecture: 'efficientnet-b2', weights: 'none', head: { epochs: 1 } },
        { imagenetWeightsAvailable: false },
      ),
      [],
    );
  });

  test('the errors are HTTP 400 domain errors', () => {
    try {
      resolveTrainingConfig({});
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof TrainingConfigError);
      assert.equal(error.status, 400);
    }
  });

  test('every property of the schema is documented (it becomes openapi.yaml)', () => {
    const undocumented: string[] = [];
    const visit = (schema: Record<string, unknown>, where: string) => {
      const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [name, child] of Object.entries(properties ?? {})) {
        if (typeof child.description !== 'string' || child.description.length < 10)
          undocumented.push(`${where}/${name}`);
        visit(child, `${where}/${name}`);
        for (const branch of (child.anyOf as Record<string, unknown>[] | undefined) ?? [])
          visit(branch, `${where}/${name}`);
      }
    };
    visit(TrainingConfigSchema as unknown as Record<string, unknown>, '');
    assert.deepEqual(undocumented, []);
    assert.ok(Value.Check(TrainingConfigSchema, { architecture: 'efficientnet-b0', head: { epochs: 0 } }));
  });
});
