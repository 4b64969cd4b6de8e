// ONNX protobuf bytes -> Model IR. The inverse of serializeModel for our own files, and a strict
// reader for ordinary user models: anything the IR cannot represent (float16 tensors, subgraph
// attributes, unknown-rank inputs, external data that was not supplied) raises an OnnxFormatError
// that says what and where, instead of producing a silently wrong model.

import { fromBinary, isFieldSet } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AttrType,
  ModelProtoSchema,
  TensorProto_DataLocation,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { elemTypeName, elemTypeToDtype } from './elem-types';
import { OnnxFormatError, sniffFormat } from './errors';
import {
  bytesPerElement,
  numElements,
  type Attr,
  type Attrs,
  type DType,
  type Graph,
  type GraphNode,
  type Initializer,
  type Model,
  type TensorData,
  type ValueInfo,
} from './graph';
import { DYNAMIC_DIM, HOST_IS_LITTLE_ENDIAN } from './serialize';
import { errorText } from '../runtime/error-text';

export { OnnxFormatError } from './errors';

export interface ParseOptions {
  /**
   * Returns the bytes of an external data file, by its ONNX `location` (a path relative to the
   * model file), or undefined when it is not available.
   */
  readonly externalData?: (location: string) => Uint8Array | undefined;
}

/**
 * Reads an ONNX model. Dynamic dimensions become -1. `graph.valueInfo` holds the model's
 * value_info plus the graph outputs that nodes produce, matching what serializeModel writes.
 * @throws OnnxFormatError ('malformed' | 'unsupported' | 'external-data')
 */
export function parseModel(bytes: Uint8Array, options: ParseOptions = {}): Model {
  const proto = decodeModelProto(bytes);
  const graphProto = proto.graph!; // checked by decodeModelProto
  if (options.externalData === undefined) rejectExternalData(graphProto);
  const model: {
    -readonly [K in keyof Model]: Model[K];
  } = {
    graph: parseGraph(graphProto, options),
    opsets: proto.opsetImport.map((o) => ({ domain: o.domain, version: Number(o.version) })),
  };
  // proto2 presence tells "absent" from "empty", so serialize -> parse is the identity.
  if (isFieldSet(proto, ModelProtoSchema.field.producerName!)) model.producerName = proto.producerName;
  if (isFieldSet(proto, ModelProtoSchema.field.producerVersion!)) model.producerVersion = proto.producerVersion;
  if (proto.metadataProps.length > 0) {
    model.metadata = Object.fromEntries(proto.metadataProps.map((e) => [e.key, e.value]));
  }
  return model;
}

function decodeModelProto(bytes: Uint8Array): ModelProto {
  const notOnnx = (detail: string, cause?: unknown): OnnxFormatError => {
    const guess = sniffFormat(bytes);
    const message = guess !== null ? `this file is ${guess}, not an ONNX model` : `this file is not a valid ONNX model: ${detail}`;
    return new OnnxFormatError(message, 'malformed', { cause });
  };
  if (bytes.length === 0) throw new OnnxFormatError('the file is empty, not an ONNX model');
  let proto: ModelProto;
  try {
    proto = fromBinary(ModelProtoSchema, bytes, { readUnknownFields: false });
  } catch (e) {
    throw notOnnx(`its protobuf data is corrupt or truncated (${errorText(e)})`, e);
  }
  // Arbitrary bytes sometimes decode as a protobuf by chance; a real model always has these.
  if (proto.graph === undefined) throw notOnnx('it has no graph');
  if (proto.irVersion <= 0n) throw notOnnx('it has no valid ir_version');
  if (proto.opsetImport.length === 0) throw notOnnx('it declares no opset');
  return proto;
}

function rejectExternalData(g: GraphProto): void {
  const external = g.initializer.filter(isExternal);
  if (external.length === 0) return;
  const files = [...new Set(external.map(externalLocation))].join(', ');
  const names = external.map((t) => `'${t.name}'`).join(', ');
  throw new OnnxFormatError(
    `${external.length} initializer(s) (${names}) keep their weights in external file(s) ${files}; ` +
      'load those files too (ParseOptions.externalData)',
    'external-data',
  );
}

function isExternal(t: TensorProto): boolean {
  return t.dataLocation === TensorProto_DataLocation.EXTERNAL;
}

function externalEntry(t: TensorProto, key: string): string | undefined {
  return t.externalData.find((e) => e.key === key)?.value;
}

function externalLocation(t: TensorProto): string {
  return externalEntry(t, 'location') ?? '(no location)';
}

// ---------------------------------------------------------------------------------------------
// Graph, nodes, value infos

function parseGraph(g: GraphProto, options: ParseOptions): Graph {
  if (g.sparseInitializer.length > 0) {
    throw new OnnxFormatError('the model uses sparse initializers, which are not supported', 'unsupported');
  }
  const initializers = g.initializer.map((t) => parseTensor(t, `initializer '${t.name}'`, options));
  // Before IR 4, every initializer was also listed as a graph input; those are not real feeds.
  const initNames = new Set(initializers.map((t) => t.name));
  const inputs = g.input.filter((v) => !initNames.has(v.name)).map((v) => requiredValueInfo(v, 'input'));
  const outputs = g.output.map((v) => requiredValueInfo(v, 'output'));
  const nodes = g.node.map(parseNode);
  return { name: g.name, inputs, outputs, initializers, nodes, valueInfo: collectValueInfo(g, nodes, outputs) };
}

function collectValueInfo(g: GraphProto, nodes: readonly GraphNode[], outputs: readonly ValueInfo[]): Map<string, ValueInfo> {
  const map = new Map<string, ValueInfo>();
  for (const v of g.valueInfo) {
    const info = optionalValueInfo(v);
    if (info !== null) map.set(info.name, info);
  }
  const produced = new Set(nodes.flatMap((n) => n.outputs));
  for (const o of outputs) if (produced.has(o.name) && !map.has(o.name)) map.set(o.name, o);
  return map;
}

function requiredValueInfo(v: ValueInfoProto, role: 'input' | 'output'): ValueInfo {
  const info = optionalValueInfo(v);
  if (info === null) {
    throw new OnnxFormatError(`graph ${role} '${v.name}' is not a tensor with a known rank`, 'unsupported');
  }
  return info;
}

/** null when the entry carries no tensor type or no shape (value_info is only a hint). */
function optionalValueInfo(v: ValueInfoProto): ValueInfo | null {
  const t = v.type?.value;
  if (t?.case !== 'tensorType' || t.value.shape === undefined) return null;
  const shape = t.value.shape.dim.map((d) => {
    if (d.value.case !== 'dimValue') return DYNAMIC_DIM;
    return toCount(d.value.value, `a dimension of '${v.name}'`);
  });
  return { name: v.name, dtype: requireDtype(t.value.elemType, `value '${v.name}'`), shape };
}

function requireDtype(code: number, what: string): DType {
  const dtype = elemTypeToDtype(code);
  if (dtype === null) {
    throw new OnnxFormatError(
      `${what} has element type ${elemTypeName(code)}; supported types are float32, int64, int32, bool and uint8`,
      'unsupported',
    );
  }
  return dtype;
}

function toCount(v: bigint, what: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new OnnxFormatError(`${what} is invalid (${v})`);
  return Number(v);
}

function parseNode(n: NodeProto, index: number): GraphNode {
  const attrs: Record<string, Attr> = {};
  for (const a of n.attribute) attrs[a.name] = parseAttr(a, n, index);
  const node: { -readonly [K in keyof GraphNode]: GraphNode[K] } = {
    op: n.opType,
    inputs: n.input,
    outputs: n.output,
    attrs: attrs satisfies Attrs,
  };
  // `n<i>` is the name serializeModel invents for unnamed nodes: drop it to round-trip exactly.
  if (n.name !== '' && n.name !== `n${index}`) node.name = n.name;
  if (n.domain !== '') node.domain = n.domain;
  return node;
}

// ---------------------------------------------------------------------------------------------
// Attributes

function parseAttr(a: AttributeProto, n: NodeProto, index: number): Attr {
  const where = `attribute '${a.name}' of node '${n.name || `#${index}`}' (${n.opType})`;
  const type = a.type === AttrType.UNDEFINED ? inferAttrType(a) : a.type;
  switch (type) {
    case AttrType.INT:
      return { kind: 'int', value: Number(a.i) };
    case AttrType.FLOAT:
      return { kind: 'float', value: a.f };
    case AttrType.STRING:
      return { kind: 'string', value: new TextDecoder().decode(a.s) };
    case AttrType.INTS:
      return { kind: 'ints', value: a.ints.map(Number) };
    case AttrType.FLOATS:
      return { kind: 'floats', value: a.floats };
    case AttrType.TENSOR:
      if (a.t === undefined) throw new OnnxFormatError(`${where} is a tensor attribute without a tensor`);
      return { kind: 'tensor', value: parseTensor(a.t, where, {}) };
    default:
      throw new OnnxFormatError(`${where} is of kind ${AttrType[type] ?? type}, which is not supported`, 'unsupported');
  }
}

/** Very old exporters leave `type` unset; the field that is present tells the kind. */
function inferAttrType(a: AttributeProto): AttrType {
  const f = AttributeProtoSchema.field;
  if (a.ints.length > 0) return AttrType.INTS;
  if (a.floats.length > 0) return AttrType.FLOATS;
  if (a.t !== undefined) return AttrType.TENSOR;
  if (a.g !== undefined || a.graphs.length > 0) return AttrType.GRAPH;
  if (isFieldSet(a, f.s!)) return AttrType.STRING;
  if (isFieldSet(a, f.f!)) return AttrType.FLOAT;
  return AttrType.INT;
}

// ---------------------------------------------------------------------------------------------
// Tensors

function parseTensor(t: TensorProto, what: string, options: ParseOptions): Initializer {
  const dtype = requireDtype(t.dataType, what);
  const shape = t.dims.map((d) => toCount(d, `a dimension of ${what}`));
  const count = numElements(shape);
  return { name: t.name, dtype, shape, data: tensorData(t, dtype, count, what, options) };
}

function tensorData(t: TensorProto, dtype: DType, count: number, what: string, options: ParseOptions): TensorData {
  if (isExternal(t)) return fromLittleEndian(dtype, count, externalBytes(t, what, options), what);
  if (t.rawData.length > 0 || count === 0) return fromLittleEndian(dtype, count, t.rawData, what);
  switch (dtype) {
    case 'float32':
      return checkCount(Float32Array.from(t.floatData), count, what);
    case 'int64':
      return checkCount(BigInt64Array.from(t.int64Data), count, what);
    case 'int32':
      return checkCount(Int32Array.from(t.int32Data), count, what);
    case 'bool':
    case 'uint8':
      // ONNX stores 8-bit types one per int32_data entry.
      return checkCount(Uint8Array.from(t.int32Data), count, what);
  }
}

function checkCount<T extends TensorData>(data: T, count: number, what: string): T {
  if (data.length !== count) {
    const detail = data.length === 0 ? 'has no data' : `has ${data.length} elements, its shape needs ${count}`;
    throw new OnnxFormatError(`${what} ${detail}`);
  }
  return data;
}

function externalBytes(t: TensorProto, what: string, options: ParseOptions): Uint8Array {
  const location = externalLocation(t);
  const file = options.externalData?.(location);
  if (file === undefined) {
    throw new OnnxFormatError(`${what} keeps its weights in the external file ${location}, which was not provided`, 'external-data');
  }
  const offset = Number(externalEntry(t, 'offset') ?? '0');
  const lengthEntry = externalEntry(t, 'length');
  const length = lengthEntry === undefined ? file.length - offset : Number(lengthEntry);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > file.length) {
    throw new OnnxFormatError(`${what}: offset/length point outside the external file ${location}`);
  }
  return file.subarray(offset, offset + length);
}

/** Copies (raw_data is a view into the file and may be unaligned) and converts to host order. */
function fromLittleEndian(dtype: DType, count: number, bytes: Uint8Array, what: string): TensorData {
  const size = bytesPerElement(dtype);
  if (bytes.length !== count * size) {
    throw new OnnxFormatError(`${what} has ${bytes.length} bytes of data, its shape needs ${count * size}`);
  }
  const copy = new Uint8Array(bytes);
  if (HOST_IS_LITTLE_ENDIAN || size === 1) return typedView(dtype, copy.buffer, count);
  const view = new DataView(copy.buffer);
  switch (dtype) {
    case 'float32':
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, true));
    case 'int32':
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(i * 4, true));
    default:
      return BigInt64Array.from({ length: count }, (_, i) => view.getBigInt64(i * 8, true));
  }
}

function typedView(dtype: DType, buffer: ArrayBuffer, count: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, 0, count);
    case 'int64':
      return new BigInt64Array(buffer, 0, count);
    case 'int32':
      return new Int32Array(buffer, 0, count);
    case 'bool':
    case 'uint8':
      return new Uint8Array(buffer, 0, count);
  }
}
