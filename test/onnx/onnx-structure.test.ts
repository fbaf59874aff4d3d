import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { architectures, type ArchitectureSpec } from '../../src/model/architectures.js';
import { efficientNetLayout } from '../../src/model/efficientnet-blocks.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { exportToOnnx } from '../../src/onnx/onnx-exporter.js';
import { onnxGraphProblems } from '../../src/onnx/onnx-graph-validation.js';
import { decodeModelProto, onnxDataType, type GraphProto } from '../../src/onnx/onnx-schema.js';
import { useTestBackend } from '../helpers/tf-backend.js';

/**
 * B0..B7 at 32 px, decoded back from the serialized bytes: a valid graph, the node counts the block layout
 * predicts, and the parameter total BN folding predicts.
 */

const numClasses = 7;

/** Nodes per op type, from the block layout (B blocks, E with an expansion conv, S2 strided, K residual). */
function expectedNodeCounts(arch: ArchitectureSpec): Record<string, number> {
  const { blocks } = efficientNetLayout(arch);
  const B = blocks.length;
  const E = blocks.filter((b) => b.expandRatio !== 1).length;
  const S2 = blocks.filter((b) => b.strides === 2).length;
  const K = blocks.filter((b) => b.hasSkip).length;
  return {
    Transpose: 1,
    // stem, per block (expand?, depthwise, se_reduce, se_expand, project), top
    Conv: 2 + E + 4 * B,
    // swish = Sigmoid + Mul on stem, expand, depthwise, se_reduce and top; se_expand's sigmoid gate
    Sigmoid: 2 + E + 3 * B,
    // the stem's folded scale, the swishes, and the se_excite of every block
    Mul: 1 + (2 + E + 2 * B) + B,
    // the stem's folded offset and the residual adds
    Add: 1 + K,
    // stem_conv_pad and each strided block's dwconv_pad
    Pad: 1 + S2,
    // se_squeeze per block and avg_pool
    GlobalAveragePool: B + 1,
    Flatten: 1,
    Gemm: 1,
    Softmax: 1,
  };
}

/** Channels of every BatchNormalization: stem_bn, expand_bn, bn (depthwise), project_bn, top_bn. */
function batchNormChannels(arch: ArchitectureSpec): number {
  const layout = efficientNetLayout(arch);
  let channels = layout.stemFilters + layout.topFilters;
  for (const b of layout.blocks) {
    channels += (b.expandRatio !== 1 ? b.expandedFilters : 0) + b.expandedFilters + b.filtersOut;
  }
  return channels;
}

function count(values: readonly number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

function opCounts(graph: GraphProto): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of graph.node) counts[node.op_type] = (counts[node.op_type] ?? 0) + 1;
  return counts;
}

describe('exportToOnnx: graph structure of B0..B7', () => {
  before(() => useTestBackend());

  for (const arch of architectures) {
    test(arch.name, () => {
      const model = buildEfficientNet({ architecture: arch, imageSize: 32, numClasses });
      const tfjsParams = model.countParams();
      const bytes = exportToOnnx(model, { opset: 13 });
      model.dispose();
      const onnx = decodeModelProto(bytes);
      const { graph } = onnx;

      assert.deepEqual(onnxGraphProblems(graph), []);
      assert.equal(onnx.ir_version, 7);
      assert.deepEqual(onnx.opset_import, [{ domain: '', version: 13 }]);
      assert.deepEqual(opCounts(graph), expectedNodeCounts(arch));
      const dims = (i: number, list: GraphProto['input']) =>
        list[i]!.type.tensor_type.shape.dim.map((d) => d.dim_value ?? d.dim_param);
      assert.deepEqual(dims(0, graph.input), ['batch', 32, 32, 3]);
      assert.deepEqual(
        graph.output.map((o) => o.name),
        ['probabilities', 'features'],
      );
      assert.deepEqual(dims(0, graph.output), ['batch', numClasses]);
      assert.deepEqual(dims(1, graph.output), ['batch', arch.featureDim]);
      // Every BN is folded: every Conv carries a bias.
      for (const node of graph.node) if (node.op_type === 'Conv') assert.equal(node.input.length, 3, node.name);

      // tfjs' count is the documented base, the classifier and the 7 constants of `normalization`.
      assert.equal(tfjsParams, arch.baseParams + arch.featureDim * numClasses + numClasses + 7);
      // Export: `normalization`'s 7 constants become the stem's Mul and Add (3 + 3), and each BN's gamma,
      // beta, moving mean and variance (4 C) become a conv bias (C).
      const expectedParams = tfjsParams - 7 + 6 - 3 * batchNormChannels(arch);
      const floats = graph.initializer.filter((t) => t.data_type === onnxDataType.FLOAT);
      assert.equal(
        floats.reduce((sum, t) => sum + count(t.dims), 0),
        expectedParams,
      );
      for (const t of floats) assert.equal(t.raw_data.byteLength, 4 * count(t.dims), t.name);
      // The only other initializers are the int64 Pad amounts, shared by value.
      const others = graph.initializer.filter((t) => t.data_type !== onnxDataType.FLOAT);
      assert.ok(others.every((t) => t.data_type === onnxDataType.INT64 && count(t.dims) === 8));
      assert.ok(others.length <= expectedNodeCounts(arch)['Pad']!);
    });
  }
});
