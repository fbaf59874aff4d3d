import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { configurePhase } from '../../src/model/training-phase.js';
import {
  chooseBatchSize,
  estimateStepBytes,
  isOutOfMemoryError,
  isWasmRuntimeError,
  largestFittingBatch,
  memoryBudgetBytes,
  modelMemoryProfile,
  wasmHeapLimitBytes,
  type ModelMemoryProfile,
} from '../../src/training/memory-estimate.js';
import { useTestBackend } from '../helpers/tf-backend.js';

describe('memory estimate and batchSize auto', () => {
  let head: ModelMemoryProfile;
  let finetune: ModelMemoryProfile;

  before(async () => {
    await useTestBackend();
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 64, numClasses: 5 });
    try {
      configurePhase(model, { phase: 'head', bnMode: 'inference' });
      head = modelMemoryProfile(model);
      configurePhase(model, { phase: 'finetune', bnMode: 'inference' });
      finetune = modelMemoryProfile(model);
    } finally {
      model.dispose();
    }
  });

  test('the profile counts parameters and activations of the built model', () => {
    assert.equal(head.trainableParams, 1280 * 5 + 5);
    assert.equal(head.totalParams, finetune.totalParams);
    assert.ok(finetune.trainableParams > 4_000_000);
    // Activations scale with the pixel count: at 64 px about 2.1 M floats per image for B0.
    assert.ok(head.activationsPerImage > 1.5e6 && head.activationsPerImage < 3e6, String(head.activationsPerImage));
  });

  test('the estimate grows with the batch and with what the step keeps (backward > forward > inference)', () => {
    assert.ok(estimateStepBytes(finetune, 16, 'backward') > estimateStepBytes(finetune, 8, 'backward'));
    assert.ok(estimateStepBytes(finetune, 8, 'backward') > estimateStepBytes(finetune, 8, 'forward'));
    assert.ok(estimateStepBytes(head, 8, 'forward') > estimateStepBytes(head, 8, 'inference'));
  });

  test('auto picks the largest power of two that fits, capped at 32 and at the image count', () => {
    const roomy = chooseBatchSize(finetune, 'backward', 10_000, { budgetBytes: 64 * 1024 ** 3 });
    assert.equal(roomy.batchSize, 32);
    assert.equal(chooseBatchSize(finetune, 'backward', 20, { budgetBytes: 64 * 1024 ** 3 }).batchSize, 16);
    const budget = estimateStepBytes(finetune, 8, 'backward') / 0.7 + 1;
    const tight = chooseBatchSize(finetune, 'backward', 10_000, { budgetBytes: budget });
    assert.equal(tight.batchSize, 8);
    assert.ok(tight.estimatedBytes <= budget * 0.7);
    assert.equal(chooseBatchSize(finetune, 'backward', 10_000, { budgetBytes: 1 }).batchSize, 1);
    assert.equal(largestFittingBatch(head, 'forward', 256, { budgetBytes: 64 * 1024 ** 3 }), 256);
  });

  test('on wasm the budget never exceeds the 4 GiB wasm32 heap', () => {
    assert.ok(memoryBudgetBytes('wasm') <= wasmHeapLimitBytes);
    assert.ok(memoryBudgetBytes('cpu') > 0);
  });

  test('out-of-memory errors are recognised, others are not', () => {
    assert.ok(isOutOfMemoryError(new RangeError('Array buffer allocation failed')));
    assert.ok(isOutOfMemoryError(new Error('Aborted(OOM)')));
    assert.ok(isOutOfMemoryError(new RangeError('WebAssembly.Memory.grow(): Cannot enlarge memory')));
    assert.ok(!isOutOfMemoryError(new Error('ENOENT: no such file')));
    assert.ok(!isOutOfMemoryError(new TypeError('x is undefined')));
  });

  test('a wasm trap is told apart from a JS allocation failure', async () => {
    // The smallest module whose only function executes `unreachable`.
    const bytes = Uint8Array.from([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11,
    ]);
    const wasm = (globalThis as unknown as { WebAssembly: { instantiate(b: Uint8Array): Promise<unknown> } })
      .WebAssembly;
    const { instance } = (await wasm.instantiate(bytes)) as { instance: { exports: { f(): void } } };
    let trap: unknown;
    try {
      instance.exports.f();
    } catch (error) {
      trap = error;
    }
    assert.ok(isWasmRuntimeError(trap), String(trap));
    assert.ok(!isWasmRuntimeError(new RangeError('Array buffer allocation failed')));
  });
});
