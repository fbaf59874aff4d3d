import { InvalidOnnxGraphError } from './onnx-export-errors.js';
import type { GraphProto } from './onnx-schema.js';

/**
 * Structural checks of a graph, run on every export (cheap: one pass over names) so a broken file is never
 * written: single assignment, nodes in topological order, nothing unused and nothing undefined.
 * onnx.checker (Python) additionally checks operator schemas and shapes; see test/onnx.
 */
export function onnxGraphProblems(graph: GraphProto): string[] {
  const problems: string[] = [];
  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (defined.has(name)) problems.push(`${what} '${name}' is defined twice`);
    defined.add(name);
  };
  graph.input.forEach((v) => define(v.name, 'graph input'));
  graph.initializer.forEach((t) => define(t.name, 'initializer'));

  const used = new Set<string>();
  for (const node of graph.node) {
    for (const input of node.input) {
      if (input === '') continue; // an omitted optional input
      if (!defined.has(input))
        problems.push(`node '${node.name}' (${node.op_type}) reads '${input}' before it is defined`);
      used.add(input);
    }
    node.output.forEach((o) => define(o, `output of node '${node.name}'`));
  }
  const graphOutputs = new Set(graph.output.map((v) => v.name));
  for (const name of graphOutputs) {
    if (!defined.has(name)) problems.push(`graph output '${name}' is never produced`);
  }
  for (const v of graph.input) if (!used.has(v.name)) problems.push(`graph input '${v.name}' is unused`);
  for (const t of graph.initializer) if (!used.has(t.name)) problems.push(`initializer '${t.name}' is unused`);
  for (const node of graph.node) {
    for (const o of node.output) {
      if (!used.has(o) && !graphOutputs.has(o)) problems.push(`output '${o}' of node '${node.name}' is dangling`);
    }
  }
  return problems;
}

export function assertValidOnnxGraph(graph: GraphProto): void {
  const problems = onnxGraphProblems(graph);
  if (problems.length > 0) throw new InvalidOnnxGraphError(problems);
}
