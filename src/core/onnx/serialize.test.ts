import { fromBinary } from '@bufbuild/protobuf';
import { AttributeProto_AttributeType as AttrType, ModelProtoSchema } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { attr, DEFAULT_OPSET, type Graph, type GraphNode, type Initializer, type Model, type ValueInfo } from './graph';
import { parseModel } from './parse';
import { IR_VERSION, serializeModel } from './serialize';

const f32 = (name: string, shape: number[], values: number[]): Initializer => ({
  name,
  dtype: 'float32',
  shape,
  data: Float32Array.from(values),
});

const vi = (name: string, shape: number[], dtype: ValueInfo['dtype'] = 'float32'): ValueInfo => ({ name, dtype, shape });

function graph(parts: Partial<Graph> & Pick<Graph, 'nodes'>): Graph {
  return { name: 'g', inputs: [], outputs: [], initializers: [], valueInfo: new Map(), ...parts };
}

/** Touches every IR feature: all dtypes, all attribute kinds, domains, names, metadata. */
function kitchenSink(): Model {
  const initializers: Initializer[] = [
    f32('w', [2, 3], [1, -2.5, 3e-8, 3.4e38, -0, 0.1]),
    { name: 'i64', dtype: 'int64', shape: [3], data: BigInt64Array.from([2n ** 63n - 1n, -(2n ** 63n), -1n]) },
    { name: 'i32', dtype: 'int32', shape: [2, 1], data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1]) },
    { name: 'b', dtype: 'bool', shape: [4], data: Uint8Array.from([1, 0, 0, 1]) },
    { name: 'u8', dtype: 'uint8', shape: [], data: Uint8Array.from([255]) },
    { name: 'empty', dtype: 'float32', shape: [0, 3], data: new Float32Array(0) },
  ];
  const nodes: GraphNode[] = [
    {
      op: 'AllKinds',
      inputs: ['x', 'w', ''],
      outputs: ['h'],
      attrs: {
        i: attr.int(-7),
        big: attr.int(2 ** 53),
        f: attr.float(0.5),
        s: attr.string('héllo ✓'),
        is: attr.ints([1, -2, 3]),
        noInts: attr.ints([]),
        fs: attr.floats([0.25, -1.5]),
        t: attr.tensor(f32('tv', [2], [1.5, 2.5])),
        ti: attr.tensor({ name: 'tiv', dtype: 'int64', shape: [1], data: BigInt64Array.from([5n]) }),
      },
    },
    { op: 'Custom', domain: 'com.example', name: 'my_node', inputs: ['h'], outputs: ['y'], attrs: {} },
    { op: 'Relu', inputs: ['y'], outputs: ['z'], attrs: {} },
  ];
  return {
    graph: graph({
      name: 'kitchen',
      inputs: [vi('x', [4, 2, 3])],
      outputs: [vi('y', [4, 2, 3]), vi('z', [4, 2, 3])],
      initializers,
      nodes,
      valueInfo: new Map([
        ['h', vi('h', [4, 2, 3])],
        ['y', vi('y', [4, 2, 3])],
        ['z', vi('z', [4, 2, 3])],
      ]),
    }),
    opsets: [
      { domain: '', version: DEFAULT_OPSET },
      { domain: 'com.example', version: 3 },
    ],
    producerName: 'dede-web',
    producerVersion: '0.1.0',
    metadata: { config: '{"dim":192}', note: '' },
  };
}

const decode = (bytes: Uint8Array) => fromBinary(ModelProtoSchema, bytes);

describe('serializeModel -> parseModel', () => {
  it('round-trips every IR feature exactly', () => {
    const model = kitchenSink();
    expect(parseModel(serializeModel(model))).toEqual(model);
  });

  it('is deterministic and idempotent (serialize . parse . serialize = serialize)', () => {
    const bytes = serializeModel(kitchenSink());
    expect(serializeModel(kitchenSink())).toEqual(bytes);
    expect(serializeModel(parseModel(bytes))).toEqual(bytes);
  });

  it('keeps typed-array contents bit-exact, including -0, NaN and int64 extremes', () => {
    const m = kitchenSink();
    const inits = new Map(parseModel(serializeModel(m)).graph.initializers.map((t) => [t.name, t]));
    expect(inits.get('i64')!.data).toEqual(BigInt64Array.from([2n ** 63n - 1n, -(2n ** 63n), -1n]));
    expect(Object.is(inits.get('w')!.data[4], -0)).toBe(true);
    const nan = f32('nan', [1], [NaN]);
    const back = parseModel(serializeModel({ ...m, graph: { ...m.graph, initializers: [nan] } }));
    expect(Number.isNaN(back.graph.initializers[0]!.data[0])).toBe(true);
  });

  it('stores float attributes as float32 (the ONNX wire type)', () => {
    const m: Model = {
      graph: graph({ nodes: [{ op: 'X', inputs: [], outputs: ['o'], attrs: { eps: attr.float(1e-5) } }] }),
      opsets: [],
    };
    const back = parseModel(serializeModel(m)).graph.nodes[0]!.attrs.eps;
    expect(back).toEqual({ kind: 'float', value: Math.fround(1e-5) });
  });

  it('clamps INT64_MAX-as-double ints (Slice "to the end") instead of overflowing', () => {
    const m: Model = {
      graph: graph({ nodes: [{ op: 'X', inputs: [], outputs: ['o'], attrs: { e: attr.ints([2 ** 63, -(2 ** 63)]) } }] }),
      opsets: [],
    };
    const proto = decode(serializeModel(m));
    expect(proto.graph!.node[0]!.attribute[0]!.ints).toEqual([2n ** 63n - 1n, -(2n ** 63n)]);
    expect(parseModel(serializeModel(m)).graph.nodes[0]!.attrs.e).toEqual(attr.ints([2 ** 63, -(2 ** 63)]));
  });

  it('writes dynamic (-1) dims without a value and reads them back as -1', () => {
    const m: Model = {
      graph: graph({ inputs: [vi('x', [-1, 3])], outputs: [vi('x', [-1, 3])], nodes: [] }),
      opsets: [{ domain: '', version: 17 }],
    };
    const dim0 = decode(serializeModel(m)).graph!.input[0]!.type!.value;
    expect(dim0.case === 'tensorType' && dim0.value.shape!.dim[0]!.value.case).toBeUndefined();
    expect(parseModel(serializeModel(m))).toEqual(m);
  });
});

describe('serializeModel wire details', () => {
  const proto = decode(serializeModel(kitchenSink()));
  const g = proto.graph!;

  it('writes ir_version 8, opsets, producer and metadata_props', () => {
    expect(proto.irVersion).toBe(BigInt(IR_VERSION));
    expect(IR_VERSION).toBe(8);
    expect(proto.opsetImport.map((o) => [o.domain, o.version])).toEqual([
      ['', 17n],
      ['com.example', 3n],
    ]);
    expect([proto.producerName, proto.producerVersion]).toEqual(['dede-web', '0.1.0']);
    expect(proto.metadataProps.map((e) => [e.key, e.value])).toEqual([
      ['config', '{"dim":192}'],
      ['note', ''],
    ]);
  });

  it('defaults to opset 17 of the default domain when model.opsets is empty', () => {
    const p = decode(serializeModel({ graph: graph({ nodes: [] }), opsets: [] }));
    expect(p.opsetImport.map((o) => [o.domain, o.version])).toEqual([['', BigInt(DEFAULT_OPSET)]]);
  });

  it('names unnamed nodes n<i> and keeps given names and domains', () => {
    expect(g.node.map((n) => [n.name, n.domain])).toEqual([
      ['n0', ''],
      ['my_node', 'com.example'],
      ['n2', ''],
    ]);
  });

  it('emits value_info for intermediates only (graph outputs are declared as outputs)', () => {
    expect(g.valueInfo.map((v) => v.name)).toEqual(['h']);
    expect(g.output.map((v) => v.name)).toEqual(['y', 'z']);
  });

  it('writes initializers as little-endian raw_data', () => {
    const w = g.initializer.find((t) => t.name === 'w')!;
    expect([...w.rawData.subarray(0, 4)]).toEqual([0x00, 0x00, 0x80, 0x3f]); // 1.0f
    expect(w.floatData).toEqual([]);
    const i64 = g.initializer.find((t) => t.name === 'i64')!;
    expect([...i64.rawData.subarray(16, 24)]).toEqual([255, 255, 255, 255, 255, 255, 255, 255]); // -1
    expect(i64.dims).toEqual([3n]);
  });

  it('tags each attribute with its ONNX type', () => {
    const types = Object.fromEntries(g.node[0]!.attribute.map((a) => [a.name, a.type]));
    expect(types).toEqual({
      i: AttrType.INT,
      big: AttrType.INT,
      f: AttrType.FLOAT,
      s: AttrType.STRING,
      is: AttrType.INTS,
      noInts: AttrType.INTS,
      fs: AttrType.FLOATS,
      t: AttrType.TENSOR,
      ti: AttrType.TENSOR,
    });
    const a = Object.fromEntries(g.node[0]!.attribute.map((x) => [x.name, x]));
    expect(a.i!.i).toBe(-7n);
    expect(a.big!.i).toBe(2n ** 53n);
    expect(a.f!.f).toBe(0.5);
    expect(new TextDecoder().decode(a.s!.s)).toBe('héllo ✓');
    expect(a.is!.ints).toEqual([1n, -2n, 3n]);
    expect(a.fs!.floats).toEqual([0.25, -1.5]);
    expect(a.t!.t!.dims).toEqual([2n]);
  });
});

describe('serializeModel validation', () => {
  const base = kitchenSink();
  const withInit = (t: Initializer): Model => ({ ...base, graph: { ...base.graph, initializers: [t] } });

  it('rejects data whose length does not match the shape', () => {
    expect(() => serializeModel(withInit(f32('bad', [2, 2], [1, 2, 3])))).toThrow(/'bad'.*\[2, 2\] needs 4 elements, data has 3/);
  });
  it('rejects data of the wrong typed array', () => {
    const t: Initializer = { name: 'bad', dtype: 'int64', shape: [1], data: Float32Array.from([1]) };
    expect(() => serializeModel(withInit(t))).toThrow(/'bad'.*Float32Array does not hold int64/);
  });
  it('rejects a node domain without an opset import', () => {
    expect(() => serializeModel({ ...base, opsets: [{ domain: '', version: 17 }] })).toThrow(
      /node my_node \(Custom\) uses domain 'com.example'/,
    );
  });
  it('rejects non-integer int attributes and bad dims', () => {
    const node: GraphNode = { op: 'X', inputs: [], outputs: ['o'], attrs: { k: attr.int(1.5) } };
    expect(() => serializeModel({ graph: graph({ nodes: [node] }), opsets: [] })).toThrow(/attribute 'k' of node n0: 1.5/);
    expect(() => serializeModel({ graph: graph({ inputs: [vi('x', [2.5])], nodes: [] }), opsets: [] })).toThrow(
      /'x' has an invalid dimension 2.5/,
    );
  });
  it('rejects an empty graph name (onnx.checker requires one)', () => {
    expect(() => serializeModel({ graph: graph({ name: '', nodes: [] }), opsets: [] })).toThrow(/graph.name/);
  });
});
