import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { OnnxSchemaError } from './onnx-export-errors.js';

/**
 * ONNX's own schema, encoded by protobufjs. `onnx.proto` beside this file is a verbatim copy of
 * onnx/onnx v1.12.0 `onnx/onnx.proto` (commit f7ee1ac60d06abe8e26c9b6bbe1e3db5286b614b, IR version 8,
 * opsets up to 17), the release Debian's python3-onnx checker implements; later schemas only add fields.
 *
 * Why protobufjs and not the `onnx-proto` npm package: protobufjs is the maintained protobuf runtime for
 * JavaScript (releases through 2026), and reading ONNX's published .proto leaves nothing hand-written
 * about the wire format. `onnx-proto` (last release Dec 2024) bundles generated code of an unstated
 * ONNX version and still pins protobufjs 6.
 *
 * The interfaces below are the subset of the schema the exporter writes, with the .proto's field names
 * (the schema is parsed with keepCase).
 */

export const onnxDataType = { FLOAT: 1, INT64: 7 } as const;
export const onnxAttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute?: AttributeProto[];
  domain?: string;
}

export interface TensorProto {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

export interface TensorShapeDimension {
  dim_value?: number;
  dim_param?: string;
}

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: TensorShapeDimension[] } } };
  doc_string?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  doc_string?: string;
}

export interface ModelProto {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  graph: GraphProto;
  metadata_props?: { key: string; value: string }[];
}

let modelType: protobuf.Type | undefined;

/** The schema sits beside this module; from a tsc build (dist/src/onnx/) fall back to the source tree. */
function schemaPath(): string {
  const candidates = [
    new URL('./onnx.proto', import.meta.url),
    new URL('../../../src/onnx/onnx.proto', import.meta.url),
  ];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(path)) return path;
  }
  throw new OnnxSchemaError(`onnx.proto not found at ${candidates.map((c) => fileURLToPath(c)).join(' or ')}`);
}

function modelProtoType(): protobuf.Type {
  if (!modelType) {
    const path = schemaPath();
    try {
      const { root } = protobuf.parse(readFileSync(path, 'utf8'), { keepCase: true });
      modelType = root.lookupType('onnx.ModelProto');
    } catch (error) {
      throw new OnnxSchemaError(`cannot parse ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return modelType;
}

export function encodeModelProto(model: ModelProto): Uint8Array {
  const type = modelProtoType();
  const problem = type.verify(model);
  if (problem) throw new OnnxSchemaError(`ModelProto does not match onnx.proto: ${problem}`);
  const buffer = type.encode(type.fromObject(model)).finish();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Parses serialized ONNX bytes back into plain objects (int64 fields as numbers, bytes as Uint8Array). */
export function decodeModelProto(bytes: Uint8Array): ModelProto {
  const type = modelProtoType();
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false, arrays: true }) as ModelProto;
}
