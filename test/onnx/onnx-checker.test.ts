import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { exportToOnnx, type OnnxExportOptions } from '../../src/onnx/onnx-exporter.js';
import { tempDir } from '../helpers/temp-dir.js';
import { useTestBackend } from '../helpers/tf-backend.js';

/**
 * ONNX's reference checker (Debian's python3-onnx, ONNX 1.12: opsets <= 17) with full_check, which adds
 * strict shape inference over every node. CI installs it with `apt-get install -y python3-onnx`;
 * ONNX_CHECKER_PYTHON picks the interpreter (Debian's module is only on /usr/bin/python3's path, which a
 * pyenv `python3` on PATH may shadow).
 */

const checkScript = [
  'import sys, onnx',
  'model = onnx.load(sys.argv[1])',
  'onnx.checker.check_model(model, full_check=True)',
  'print("ok", onnx.__version__)',
].join('\n');

function findCheckerPython(): string | undefined {
  const candidates = [process.env.ONNX_CHECKER_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  return candidates.find((python) => spawnSync(python, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0);
}

const python = findCheckerPython();
const missing = 'python3-onnx is not installed (apt-get install -y python3-onnx); onnx.checker not run';
// CI installs python3-onnx and sets ONNX_CHECKER_REQUIRED, so there the checker can never be skipped.
if (!python && process.env.ONNX_CHECKER_REQUIRED) throw new Error(missing);
const skip = python ? false : missing;

const cases: { label: string; includeHead: boolean; options: OnnxExportOptions }[] = [
  { label: 'classifier, opset 13', includeHead: true, options: { opset: 13 } },
  { label: 'classifier, opset 17', includeHead: true, options: { opset: 17 } },
  { label: 'no head, features-only, opset 15', includeHead: false, options: { opset: 15, outputs: 'features-only' } },
];

describe('onnx.checker.check_model(full_check=True) accepts the B0 export', { skip }, () => {
  before(() => useTestBackend());

  for (const { label, includeHead, options } of cases) {
    test(label, async (t) => {
      const model = buildEfficientNet({ architecture: 'b0', imageSize: 33, numClasses: 4, includeHead });
      const file = path.join(await tempDir(t), 'b0.onnx');
      await writeFile(file, exportToOnnx(model, options));
      model.dispose();
      const result = spawnSync(python!, ['-c', checkScript, file], { encoding: 'utf8' });
      assert.equal(result.status, 0, `onnx.checker failed:\n${result.stderr}`);
      assert.match(result.stdout, /^ok /);
    });
  }
});
