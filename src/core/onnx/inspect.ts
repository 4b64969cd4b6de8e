// Cheap inspection of arbitrary (user-supplied, possibly huge or broken) ONNX files.
//
// This walks the protobuf wire format by hand instead of decoding a full ModelProto: tensor
// payloads (raw_data, float_data, …) are skipped, never copied or expanded into JS arrays, so a
// multi-GB model costs a single pass over its headers. Every length is bounds-checked and the walk
// only descends a fixed number of levels, so random or truncated bytes end in an OnnxFormatError.

import type { DescMessage } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  SparseTensorProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import { elemTypeBits, elemTypeName } from './elem-types';
import { OnnxFormatError, sniffFormat } from './errors';
import type { OpsetImport } from './graph';
import { errorText } from '../runtime/error-text';

export { OnnxFormatError } from './errors';
export { formatDims } from './dims';

/** A dimension: its size, its symbolic name (e.g. "batch"), or null when unknown. */
export type DimInfo = number | string | null;

export type ValueKind = 'tensor' | 'sequence' | 'map' | 'optional' | 'sparse_tensor' | 'unknown';

export interface TensorInfo {
  readonly name: string;
  readonly kind: ValueKind;
  /** 'float32', 'float16', 'int64', …; '' when kind is not 'tensor' or the type is not declared. */
  readonly elemType: string;
  /** null when the rank is unknown (no shape declared). */
  readonly dims: readonly DimInfo[] | null;
}

export interface ExternalDataFile {
  /** Path relative to the model file, as written in the model. */
  readonly location: string;
  /** Bytes the model reads from this file (sum over its tensors). */
  readonly bytes: number;
  readonly tensors: number;
}

export interface ModelInfo {
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly opsets: readonly OpsetImport[];
  /** The inputs a caller must feed (inputs that are also initializers are left out). */
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Sum of the element counts of all initializers, external ones included. */
  readonly parameterCount: number;
  readonly initializerCount: number;
  readonly externalData: readonly ExternalDataFile[];
  /** Nodes of the main graph (subgraphs of If/Loop are not counted). */
  readonly nodeCount: number;
  /** Sorted; ops outside the default domain are written `domain:Op`. */
  readonly opTypes: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

/** @throws OnnxFormatError when the bytes are not a readable ONNX model. */
export function inspectModel(bytes: Uint8Array): ModelInfo {
  if (bytes.length === 0) throw new OnnxFormatError('the file is empty, not an ONNX model');
  try {
    return scanModel(new Reader(bytes, 0, bytes.length));
  } catch (e) {
    throw explainFailure(e, bytes);
  }
}

// ---------------------------------------------------------------------------------------------
// Field numbers, taken from the generated schema so they cannot drift from onnx.proto.

function fieldNumbers<K extends string>(schema: DescMessage, names: readonly K[]): Readonly<Record<K, number>> {
  const out = {} as Record<K, number>;
  for (const name of names) {
    const f = schema.field[name];
    if (f === undefined) throw new Error(`onnx-buf: ${schema.typeName} has no field ${name}`);
    out[name] = f.number;
  }
  return out;
}

const F = {
  model: fieldNumbers(ModelProtoSchema, ['irVersion', 'producerName', 'producerVersion', 'graph', 'opsetImport', 'metadataProps']),
  opset: fieldNumbers(OperatorSetIdProtoSchema, ['domain', 'version']),
  entry: fieldNumbers(StringStringEntryProtoSchema, ['key', 'value']),
  graph: fieldNumbers(GraphProtoSchema, ['node', 'initializer', 'sparseInitializer', 'input', 'output']),
  node: fieldNumbers(NodeProtoSchema, ['opType', 'domain']),
  tensor: fieldNumbers(TensorProtoSchema, ['dims', 'dataType', 'name', 'externalData', 'dataLocation']),
  sparse: fieldNumbers(SparseTensorProtoSchema, ['values']),
  valueInfo: fieldNumbers(ValueInfoProtoSchema, ['name', 'type']),
  type: fieldNumbers(TypeProtoSchema, ['tensorType', 'sequenceType', 'mapType', 'optionalType', 'sparseTensorType']),
  tensorType: fieldNumbers(TypeProto_TensorSchema, ['elemType', 'shape']),
  shape: fieldNumbers(TensorShapeProtoSchema, ['dim']),
  dim: fieldNumbers(TensorShapeProto_DimensionSchema, ['dimValue', 'dimParam']),
} as const;

// ---------------------------------------------------------------------------------------------
// Minimal protobuf wire reader over [pos, end) of a shared buffer.

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
const MAX_FIELD = 2 ** 29 - 1;

const utf8 = new TextDecoder();

class Reader {
  constructor(
    private readonly buf: Uint8Array,
    public pos: number,
    private readonly end: number,
  ) {}

  done(): boolean {
    return this.pos >= this.end;
  }

  /** Returns [field number, wire type]. */
  tag(): [number, number] {
    const at = this.pos;
    const t = this.varint();
    const field = Math.floor(t / 8);
    const wire = t % 8;
    // Groups (3, 4) are never used by ONNX; 6 and 7 do not exist.
    if (field < 1 || field > MAX_FIELD || wire === 3 || wire === 4 || wire > 5) {
      throw new OnnxFormatError(`invalid protobuf field (number ${field}, wire type ${wire}) at byte ${at}`);
    }
    return [field, wire];
  }

  /** A varint as a number (exact up to 2^53; int64 negatives come back negative). */
  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new OnnxFormatError(`the data ends in the middle of a number at byte ${this.pos}`);
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value >= 2 ** 63 ? value - 2 ** 64 : value;
    }
    throw new OnnxFormatError(`malformed number at byte ${this.pos}`);
  }

  /** The next length-delimited field as a sub-reader; this reader moves past it. */
  message(): Reader {
    const len = this.varint();
    const start = this.pos;
    if (len < 0 || len > this.end - start) {
      throw new OnnxFormatError(`a field at byte ${start} claims ${len} bytes but only ${this.end - start} remain (truncated file?)`);
    }
    this.pos = start + len;
    return new Reader(this.buf, start, start + len);
  }

  string(): string {
    const sub = this.message();
    return utf8.decode(this.buf.subarray(sub.pos, sub.end));
  }

  skip(wire: number): void {
    const n = wire === WIRE_VARINT ? 0 : wire === WIRE_I64 ? 8 : wire === WIRE_I32 ? 4 : -1;
    if (n === 0) this.varint();
    else if (n < 0) this.message();
    else if (n > this.end - this.pos) throw new OnnxFormatError(`the data ends in the middle of a field at byte ${this.pos}`);
    else this.pos += n;
  }
}

function expectWire(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new OnnxFormatError(`${what} has wire type ${actual}, expected ${expected}`);
}

/** Calls `onField` for each field; it returns false for fields it did not consume, which are skipped. */
function eachField(r: Reader, onField: (field: number, wire: number) => boolean): void {
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (!onField(field, wire)) r.skip(wire);
  }
}

function readString(r: Reader, wire: number, what: string): string {
  expectWire(wire, WIRE_LEN, what);
  return r.string();
}

function readVarint(r: Reader, wire: number, what: string): number {
  expectWire(wire, WIRE_VARINT, what);
  return r.varint();
}

function readMessage(r: Reader, wire: number, what: string): Reader {
  expectWire(wire, WIRE_LEN, what);
  return r.message();
}

/** Repeated int64, accepting both the packed and the unpacked encoding. */
function readInt64s(r: Reader, wire: number, out: number[]): void {
  if (wire === WIRE_VARINT) {
    out.push(r.varint());
    return;
  }
  const sub = readMessage(r, wire, 'a repeated integer field');
  while (!sub.done()) out.push(sub.varint());
}

// ---------------------------------------------------------------------------------------------
// ModelProto

function scanModel(r: Reader): ModelInfo {
  let irVersion = 0;
  let producerName = '';
  let producerVersion = '';
  const opsets: OpsetImport[] = [];
  const metadata: Record<string, string> = {};
  let graph: GraphScan | null = null;
  eachField(r, (field, wire) => {
    if (field === F.model.irVersion) irVersion = readVarint(r, wire, 'ir_version');
    else if (field === F.model.producerName) producerName = readString(r, wire, 'producer_name');
    else if (field === F.model.producerVersion) producerVersion = readString(r, wire, 'producer_version');
    else if (field === F.model.opsetImport) opsets.push(scanOpset(readMessage(r, wire, 'opset_import')));
    else if (field === F.model.graph) graph = scanGraph(readMessage(r, wire, 'graph'));
    else if (field === F.model.metadataProps) {
      const [k, v] = scanEntry(readMessage(r, wire, 'metadata_props'));
      metadata[k] = v;
    } else return false;
    return true;
  });
  // Random bytes can parse as protobuf by chance; a real model always has these three.
  const g = graph as GraphScan | null;
  if (g === null) throw new OnnxFormatError('it has no graph');
  if (irVersion <= 0) throw new OnnxFormatError('it has no valid ir_version');
  if (opsets.length === 0) throw new OnnxFormatError('it declares no opset');
  return { irVersion, producerName, producerVersion, opsets, metadata, ...summarizeGraph(g) };
}

function scanOpset(r: Reader): OpsetImport {
  let domain = '';
  let version = 0;
  eachField(r, (field, wire) => {
    if (field === F.opset.domain) domain = readString(r, wire, 'opset domain');
    else if (field === F.opset.version) version = readVarint(r, wire, 'opset version');
    else return false;
    return true;
  });
  return { domain, version };
}

function scanEntry(r: Reader): [string, string] {
  let key = '';
  let value = '';
  eachField(r, (field, wire) => {
    if (field === F.entry.key) key = readString(r, wire, 'key');
    else if (field === F.entry.value) value = readString(r, wire, 'value');
    else return false;
    return true;
  });
  return [key, value];
}

// ---------------------------------------------------------------------------------------------
// GraphProto

interface TensorHeader {
  readonly name: string;
  readonly dataType: number;
  readonly dims: readonly number[];
  /** Set for data_location EXTERNAL. */
  readonly external: { readonly location: string; readonly length: number | null } | null;
}

interface GraphScan {
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  readonly initializers: TensorHeader[];
  readonly ops: string[];
}

function scanGraph(r: Reader): GraphScan {
  const scan: GraphScan = { inputs: [], outputs: [], initializers: [], ops: [] };
  eachField(r, (field, wire) => {
    if (field === F.graph.node) scan.ops.push(scanNode(readMessage(r, wire, 'node')));
    else if (field === F.graph.initializer) scan.initializers.push(scanTensor(readMessage(r, wire, 'initializer')));
    else if (field === F.graph.sparseInitializer) {
      const values = scanSparseValues(readMessage(r, wire, 'sparse_initializer'));
      if (values !== null) scan.initializers.push(values);
    } else if (field === F.graph.input) scan.inputs.push(scanValueInfo(readMessage(r, wire, 'input')));
    else if (field === F.graph.output) scan.outputs.push(scanValueInfo(readMessage(r, wire, 'output')));
    else return false;
    return true;
  });
  return scan;
}

function summarizeGraph(g: GraphScan): Omit<ModelInfo, 'irVersion' | 'producerName' | 'producerVersion' | 'opsets' | 'metadata'> {
  const initNames = new Set(g.initializers.map((t) => t.name));
  return {
    inputs: g.inputs.filter((v) => !initNames.has(v.name)),
    outputs: g.outputs,
    parameterCount: g.initializers.reduce((sum, t) => sum + count(t.dims), 0),
    initializerCount: g.initializers.length,
    externalData: groupExternalData(g.initializers),
    nodeCount: g.ops.length,
    opTypes: [...new Set(g.ops)].sort(),
  };
}

function count(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

function groupExternalData(tensors: readonly TensorHeader[]): ExternalDataFile[] {
  const files = new Map<string, { bytes: number; tensors: number }>();
  for (const t of tensors) {
    if (t.external === null) continue;
    // Without an explicit length, the tensor occupies its full dense size in the file.
    const bytes = t.external.length ?? Math.ceil((count(t.dims) * elemTypeBits(t.dataType)) / 8);
    const file = files.get(t.external.location) ?? { bytes: 0, tensors: 0 };
    files.set(t.external.location, { bytes: file.bytes + bytes, tensors: file.tensors + 1 });
  }
  return [...files].map(([location, f]) => ({ location, ...f }));
}

function scanNode(r: Reader): string {
  let op = '';
  let domain = '';
  eachField(r, (field, wire) => {
    if (field === F.node.opType) op = readString(r, wire, 'op_type');
    else if (field === F.node.domain) domain = readString(r, wire, 'node domain');
    else return false;
    return true;
  });
  return domain === '' || domain === 'ai.onnx' ? op : `${domain}:${op}`;
}

function scanTensor(r: Reader): TensorHeader {
  let name = '';
  let dataType = 0;
  const dims: number[] = [];
  let isExternal = false;
  const entries = new Map<string, string>();
  eachField(r, (field, wire) => {
    if (field === F.tensor.dims) readInt64s(r, wire, dims);
    else if (field === F.tensor.dataType) dataType = readVarint(r, wire, 'data_type');
    else if (field === F.tensor.name) name = readString(r, wire, 'tensor name');
    else if (field === F.tensor.dataLocation) {
      isExternal = readVarint(r, wire, 'data_location') === TensorProto_DataLocation.EXTERNAL;
    } else if (field === F.tensor.externalData) entries.set(...scanEntry(readMessage(r, wire, 'external_data')));
    else return false; // raw_data, float_data, …: skipped without being read
    return true;
  });
  if (dims.some((d) => d < 0)) throw new OnnxFormatError(`tensor '${name}' has a negative dimension`);
  const length = entries.has('length') ? Number(entries.get('length')) : null;
  const external = isExternal
    ? { location: entries.get('location') ?? '', length: length !== null && Number.isFinite(length) ? length : null }
    : null;
  return { name, dataType, dims, external };
}

/** A sparse initializer counts its stored (non-zero) values as parameters. */
function scanSparseValues(r: Reader): TensorHeader | null {
  let values: TensorHeader | null = null;
  eachField(r, (field, wire) => {
    if (field !== F.sparse.values) return false;
    values = scanTensor(readMessage(r, wire, 'sparse values'));
    return true;
  });
  return values;
}

// ---------------------------------------------------------------------------------------------
// ValueInfoProto / TypeProto

function scanValueInfo(r: Reader): TensorInfo {
  let name = '';
  let type: Omit<TensorInfo, 'name'> = { kind: 'unknown', elemType: '', dims: null };
  eachField(r, (field, wire) => {
    if (field === F.valueInfo.name) name = readString(r, wire, 'value name');
    else if (field === F.valueInfo.type) type = scanType(readMessage(r, wire, 'value type'));
    else return false;
    return true;
  });
  return { name, ...type };
}

const NON_TENSOR_KINDS: ReadonlyMap<number, ValueKind> = new Map([
  [F.type.sequenceType, 'sequence'],
  [F.type.mapType, 'map'],
  [F.type.optionalType, 'optional'],
  [F.type.sparseTensorType, 'sparse_tensor'],
]);

function scanType(r: Reader): Omit<TensorInfo, 'name'> {
  let type: Omit<TensorInfo, 'name'> = { kind: 'unknown', elemType: '', dims: null };
  eachField(r, (field, wire) => {
    if (field === F.type.tensorType) {
      type = scanTensorType(readMessage(r, wire, 'tensor type'));
      return true;
    }
    const kind = NON_TENSOR_KINDS.get(field);
    if (kind !== undefined) type = { kind, elemType: '', dims: null };
    return false; // non-tensor kinds are skipped, not looked into
  });
  return type;
}

function scanTensorType(r: Reader): Omit<TensorInfo, 'name'> {
  let code: number = TensorProto_DataType.UNDEFINED;
  let dims: DimInfo[] | null = null;
  eachField(r, (field, wire) => {
    if (field === F.tensorType.elemType) code = readVarint(r, wire, 'elem_type');
    else if (field === F.tensorType.shape) dims = scanShape(readMessage(r, wire, 'shape'));
    else return false;
    return true;
  });
  const elemType = code === TensorProto_DataType.UNDEFINED ? '' : elemTypeName(code);
  return { kind: 'tensor', elemType, dims };
}

function scanShape(r: Reader): DimInfo[] {
  const dims: DimInfo[] = [];
  eachField(r, (field, wire) => {
    if (field !== F.shape.dim) return false;
    dims.push(scanDim(readMessage(r, wire, 'dim')));
    return true;
  });
  return dims;
}

function scanDim(r: Reader): DimInfo {
  let dim: DimInfo = null;
  eachField(r, (field, wire) => {
    if (field === F.dim.dimValue) {
      const v = readVarint(r, wire, 'dim_value');
      dim = v >= 0 ? v : null; // some exporters write -1 for "unknown"
    } else if (field === F.dim.dimParam) {
      const p = readString(r, wire, 'dim_param');
      dim = p === '' ? null : p;
    } else return false;
    return true;
  });
  return dim;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Wraps any failure in an OnnxFormatError whose message a user can act on. */
function explainFailure(e: unknown, bytes: Uint8Array): OnnxFormatError {
  const detail = errorText(e);
  const guess = sniffFormat(bytes);
  const message = guess !== null ? `this file is ${guess}, not an ONNX model` : `this file is not a valid ONNX model: ${detail}`;
  return new OnnxFormatError(message, e instanceof OnnxFormatError ? e.code : 'malformed', { cause: e });
}
