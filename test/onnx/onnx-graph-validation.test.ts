import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidOnnxGraphError } from '../../src/onnx/onnx-export-errors.js';
import { floatValueInfo } from '../../src/onnx/onnx-graph-builder.js';
import { assertValidOnnxGraph, onnxGraphProblems } from '../../src/onnx/onnx-graph-validation.js';
import { onnxDataType, type GraphProto, type NodeProto } from '../../src/onnx/onnx-schema.js';

function node(name: string, opType: string, input: string[], output: string[]): NodeProto {
  return { name, op_type: opType, input, output };
}

/** x -> Mul(w) -> Relu -> y */
function graph(overrides: Partial<GraphProto> = {}): GraphProto {
  return {
    name: 'g',
    node: [node('mul', 'Mul', ['x', 'w'], ['m']), node('relu', 'Relu', ['m'], ['y'])],
    initializer: [{ name: 'w', dims: [1], data_type: onnxDataType.FLOAT, raw_data: new Uint8Array(4) }],
    input: [floatValueInfo('x', [null, 1])],
    output: [floatValueInfo('y', [null, 1])],
    ...overrides,
  };
}

describe('onnxGraphProblems', () => {
  test('a well-formed graph has none', () => {
    assert.deepEqual(onnxGraphProblems(graph()), []);
    assert.doesNotThrow(() => assertValidOnnxGraph(graph()));
  });

  test('a node reading a value before it is produced', () => {
    const g = graph({ node: [node('relu', 'Relu', ['m'], ['y']), node('mul', 'Mul', ['x', 'w'], ['m'])] });
    assert.match(onnxGraphProblems(g).join('\n'), /node 'relu' \(Relu\) reads 'm' before it is defined/);
    assert.throws(() => assertValidOnnxGraph(g), InvalidOnnxGraphError);
  });

  test('unused initializers and inputs, dangling outputs, missing graph outputs, double definitions', () => {
    const unused = { name: 'unused', dims: [1], data_type: onnxDataType.FLOAT, raw_data: new Uint8Array(4) };
    const g = graph({
      node: [
        node('mul', 'Mul', ['x', 'w'], ['m']),
        node('relu', 'Relu', ['m'], ['m']),
        node('neg', 'Neg', ['m'], ['z']),
      ],
      initializer: [graph().initializer[0]!, unused],
      input: [floatValueInfo('x', [null, 1]), floatValueInfo('x2', [null, 1])],
    });
    const problems = onnxGraphProblems(g).join('\n');
    assert.match(problems, /initializer 'unused' is unused/);
    assert.match(problems, /graph input 'x2' is unused/);
    assert.match(problems, /output 'z' of node 'neg' is dangling/);
    assert.match(problems, /graph output 'y' is never produced/);
    assert.match(problems, /'m' is defined twice/);
  });
});
