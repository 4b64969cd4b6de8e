// Model IR -> ONNX protobuf bytes (onnx-buf / protobuf-es v2).
//
// The output must load in onnxruntime (node + web) and pass `onnx.checker` with full_check, so the
// function validates what ORT would otherwise reject with a cryptic message (shape/data mismatches,
// missing opset imports) and throws a plain Error naming the offending tensor or node.

import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AttrType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
  type TensorShapeProto_Dimension,
  type ValueInfoProto,
} from 'onnx-buf';
import { dtypeToElemType } from './elem-types';
import {
  DEFAULT_OPSET,
  numElements,
  type Attr,
  type DType,
  type Graph,
  type GraphNode,
  type Initializer,
  type Model,
  type OpsetImport,
  type TensorData,
  type ValueInfo,
} from './graph';

/** ONNX IR version we emit: 8 is what opset 17 needs and what the oldest tools we target read. */
export const IR_VERSION = 8;

/** The opsets written when `model.opsets` is empty. */
export const DEFAULT_OPSETS: readonly OpsetImport[] = [{ domain: '', version: DEFAULT_OPSET }];

/** In a shape, -1 marks a dimension whose size is unknown; it is written without a value. */
export const DYNAMIC_DIM = -1;

export function serializeModel(model: Model): Uint8Array {
  const opsets = model.opsets.length > 0 ? model.opsets : DEFAULT_OPSETS;
  checkOpsetsCoverNodes(opsets, model.graph.nodes);
  const proto = create(ModelProtoSchema, {
    irVersion: BigInt(IR_VERSION),
    opsetImport: opsets.map(opsetProto),
    graph: graphProto(model.graph),
    metadataProps: Object.entries(model.metadata ?? {}).map(([key, value]) =>
      create(StringStringEntryProtoSchema, { key, value }),
    ),
  });
  // Only written when given, so that serialize -> parse is the identity.
  if (model.producerName !== undefined) proto.producerName = model.producerName;
  if (model.producerVersion !== undefined) proto.producerVersion = model.producerVersion;
  return toBinary(ModelProtoSchema, proto);
}

function opsetProto(o: OpsetImport): OperatorSetIdProto {
  return create(OperatorSetIdProtoSchema, { domain: o.domain, version: BigInt(o.version) });
}

/** ORT refuses a node whose domain has no opset import; say so here, with the node's name. */
function checkOpsetsCoverNodes(opsets: readonly OpsetImport[], nodes: readonly GraphNode[]): void {
  const domains = new Set(opsets.map((o) => o.domain));
  nodes.forEach((node, i) => {
    const domain = node.domain ?? '';
    if (!domains.has(domain)) {
      throw new Error(
        `node ${nodeName(node, i)} (${node.op}) uses domain '${domain}' but model.opsets has no import for it`,
      );
    }
  });
}

function nodeName(node: GraphNode, index: number): string {
  return node.name ?? `n${index}`;
}

function graphProto(graph: Graph): GraphProto {
  if (graph.name === '') throw new Error('graph.name must be non-empty (ONNX requires a graph name)');
  // value_info is for values that are neither graph inputs nor outputs (ONNX spec); the IR's map
  // may also hold graph outputs produced by nodes, and parse puts those back.
  const boundary = new Set([...graph.inputs, ...graph.outputs].map((v) => v.name));
  const intermediates = [...graph.valueInfo.values()].filter((v) => !boundary.has(v.name));
  return create(GraphProtoSchema, {
    name: graph.name,
    node: graph.nodes.map(nodeProto),
    initializer: graph.initializers.map(tensorProto),
    input: graph.inputs.map(valueInfoProto),
    output: graph.outputs.map(valueInfoProto),
    valueInfo: intermediates.map(valueInfoProto),
  });
}

function nodeProto(node: GraphNode, index: number): NodeProto {
  if (node.op === '') throw new Error(`node ${nodeName(node, index)} has an empty op type`);
  return create(NodeProtoSchema, {
    name: nodeName(node, index),
    opType: node.op,
    domain: node.domain ?? '',
    input: [...node.inputs],
    output: [...node.outputs],
    attribute: Object.entries(node.attrs).map(([name, a]) => attributeProto(name, a, node, index)),
  });
}

function valueInfoProto(v: ValueInfo): ValueInfoProto {
  const shape = create(TensorShapeProtoSchema, { dim: v.shape.map((d) => dimProto(d, v.name)) });
  const tensorType = create(TypeProto_TensorSchema, { elemType: dtypeToElemType(v.dtype), shape });
  return create(ValueInfoProtoSchema, {
    name: v.name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: tensorType } }),
  });
}

function dimProto(d: number, name: string): TensorShapeProto_Dimension {
  if (d === DYNAMIC_DIM) return create(TensorShapeProto_DimensionSchema, {});
  if (!Number.isSafeInteger(d) || d < 0) throw new Error(`value '${name}' has an invalid dimension ${d}`);
  return create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: BigInt(d) } });
}

// ---------------------------------------------------------------------------------------------
// Attributes

function attributeProto(name: string, a: Attr, node: GraphNode, index: number): AttributeProto {
  const where = `attribute '${name}' of node ${nodeName(node, index)}`;
  switch (a.kind) {
    case 'int':
      return create(AttributeProtoSchema, { name, type: AttrType.INT, i: toInt64(a.value, where) });
    case 'float':
      return create(AttributeProtoSchema, { name, type: AttrType.FLOAT, f: a.value });
    case 'string':
      return create(AttributeProtoSchema, { name, type: AttrType.STRING, s: new TextEncoder().encode(a.value) });
    case 'ints':
      return create(AttributeProtoSchema, { name, type: AttrType.INTS, ints: a.value.map((v) => toInt64(v, where)) });
    case 'floats':
      return create(AttributeProtoSchema, { name, type: AttrType.FLOATS, floats: [...a.value] });
    case 'tensor':
      return create(AttributeProtoSchema, { name, type: AttrType.TENSOR, t: tensorProto(a.value) });
  }
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * Attribute ints are numbers in the IR. User models use INT64_MAX as "to the end" (Slice); it
 * parses to the double 2^63, which is out of int64 range, so clamp to keep such models writable.
 */
function toInt64(v: number, where: string): bigint {
  if (!Number.isInteger(v)) throw new Error(`${where}: ${v} is not an integer`);
  const b = BigInt(v);
  return b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
}

// ---------------------------------------------------------------------------------------------
// Tensors

function tensorProto(t: Initializer): TensorProto {
  checkTensor(t);
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`initializer '${t.name}' has an invalid dimension ${d}`);
  }
  return create(TensorProtoSchema, {
    name: t.name,
    dims: t.shape.map((d) => BigInt(d)),
    dataType: dtypeToElemType(t.dtype),
    rawData: toLittleEndianBytes(t.data),
  });
}

function checkTensor(t: Initializer): void {
  if (!dataMatchesDtype(t.data, t.dtype)) {
    throw new Error(`initializer '${t.name}': ${t.data.constructor.name} does not hold ${t.dtype} elements`);
  }
  const expected = numElements(t.shape);
  if (t.data.length !== expected) {
    throw new Error(
      `initializer '${t.name}': shape [${t.shape.join(', ')}] needs ${expected} elements, data has ${t.data.length}`,
    );
  }
}

function dataMatchesDtype(data: TensorData, dtype: DType): boolean {
  switch (dtype) {
    case 'float32':
      return data instanceof Float32Array;
    case 'int64':
      return data instanceof BigInt64Array;
    case 'int32':
      return data instanceof Int32Array;
    case 'bool':
    case 'uint8':
      return data instanceof Uint8Array;
  }
}

/** True on every platform we know of; the DataView path keeps big-endian hosts correct anyway. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX raw_data is little-endian; always returns a fresh copy (never aliases the caller's data). */
function toLittleEndianBytes(data: TensorData): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(data.byteLength);
  if (HOST_IS_LITTLE_ENDIAN || data instanceof Uint8Array) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return out;
  }
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i]!, true);
    else if (data instanceof Int32Array) view.setInt32(i * 4, data[i]!, true);
    else view.setBigInt64(i * 8, data[i]!, true);
  }
  return out;
}
