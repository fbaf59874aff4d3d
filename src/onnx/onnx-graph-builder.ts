import {
  onnxAttributeType,
  onnxDataType,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-schema.js';

/**
 * Accumulates the nodes and initializers of one ONNX graph in emission order, which the exporter keeps
 * topological. Names are made unique here, so callers can name things after the Keras layer they come from.
 */

/** A plain number is an INT attribute (it must be an integer); floats are spelled out so 1.0 stays a FLOAT. */
export type AttributeValue = number | string | number[] | { float: number };

export class OnnxGraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();
  /** Constant int64 initializers by value, so e.g. identical Pad amounts share one tensor. */
  private readonly int64Constants = new Map<string, string>();

  /** A fresh value name based on `base`. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Reserves an exact name (graph inputs and outputs); a clash is a bug in the exporter. */
  reserveName(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX graph name '${name}' is already taken`);
    this.used.add(name);
    return name;
  }

  /** Appends a node and returns the names of its outputs (fresh names derived from `outputBase` unless given). */
  addNode(
    opType: string,
    inputs: string[],
    outputBase: string,
    attributes: Record<string, AttributeValue> = {},
    outputName?: string,
  ): string {
    const output = outputName ?? this.uniqueName(outputBase);
    this.nodes.push({
      name: this.uniqueName(`${outputBase}/${opType}`),
      op_type: opType,
      input: inputs,
      output: [output],
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return output;
  }

  addFloatInitializer(base: string, data: Float32Array, dims: number[]): string {
    const name = this.uniqueName(base);
    this.initializers.push(tensor(name, onnxDataType.FLOAT, dims, new Uint8Array(toLittleEndian(data))));
    return name;
  }

  /** An int64 constant (Pad amounts, shapes); identical values share one initializer. */
  int64Constant(base: string, values: number[]): string {
    const key = values.join(',');
    const existing = this.int64Constants.get(key);
    if (existing) return existing;
    const name = this.uniqueName(base);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push(tensor(name, onnxDataType.INT64, [values.length], new Uint8Array(toLittleEndian(data))));
    this.int64Constants.set(key, name);
    return name;
  }

  /** Renames a value everywhere it appears (gives graph outputs their public, previously reserved names). */
  rename(from: string, to: string): void {
    for (const node of this.nodes) {
      node.input = node.input.map((n) => (n === from ? to : n));
      node.output = node.output.map((n) => (n === from ? to : n));
    }
  }

  build(name: string, inputs: ValueInfoProto[], outputs: ValueInfoProto[], docString?: string): GraphProto {
    return {
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: inputs,
      output: outputs,
      ...(docString ? { doc_string: docString } : {}),
    };
  }
}

/** A float32 tensor value description; `null` dimensions become the symbolic dimension `batch`. */
export function floatValueInfo(name: string, shape: (number | null)[], docString?: string): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: onnxDataType.FLOAT,
        shape: { dim: shape.map((d) => (d == null ? { dim_param: 'batch' } : { dim_value: d })) },
      },
    },
    ...(docString ? { doc_string: docString } : {}),
  };
}

function attribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'string') return { name, type: onnxAttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: onnxAttributeType.INTS, ints: value.map((v) => checkInt(name, v)) };
  if (typeof value === 'object') return { name, type: onnxAttributeType.FLOAT, f: value.float };
  return { name, type: onnxAttributeType.INT, i: checkInt(name, value) };
}

function checkInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw new Error(`ONNX attribute '${name}': ${value} is not an integer`);
  return value;
}

function tensor(name: string, dataType: number, dims: number[], rawData: Uint8Array): TensorProto {
  return { name, dims, data_type: dataType, raw_data: rawData };
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX raw_data is little-endian whatever the host. */
function toLittleEndian(data: Float32Array | BigInt64Array): ArrayBuffer {
  const copy = data.slice().buffer as ArrayBuffer;
  if (littleEndianHost) return copy;
  const view = new DataView(copy);
  const width = data.BYTES_PER_ELEMENT;
  for (let offset = 0; offset < copy.byteLength; offset += width) {
    if (width === 4) view.setFloat32(offset, view.getFloat32(offset, false), true);
    else view.setBigInt64(offset, view.getBigInt64(offset, false), true);
  }
  return copy;
}
