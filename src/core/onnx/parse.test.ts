import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AttrType,
  type GraphProto,
  GraphProtoSchema,
  ModelProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType as DT,
  TensorProtoSchema,
} from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { OnnxFormatError, parseModel } from './parse';

type GraphInit = Exclude<MessageInitShape<typeof GraphProtoSchema>, GraphProto>;
type TensorInit = MessageInitShape<typeof TensorProtoSchema>;

/** A ModelProto as another tool might write it (not via serializeModel). */
function modelBytes(graph: GraphInit): Uint8Array {
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, { irVersion: 7n, opsetImport: [{ domain: '', version: 13n }], graph: { name: 'g', ...graph } }),
  );
}

function tensorType(elemType: number, dims: (number | string | null)[]) {
  return {
    value: {
      case: 'tensorType' as const,
      value: {
        elemType,
        shape: {
          dim: dims.map((d) =>
            d === null ? {} : typeof d === 'number' ? { value: { case: 'dimValue' as const, value: BigInt(d) } } : { value: { case: 'dimParam' as const, value: d } },
          ),
        },
      },
    },
  };
}

const init = (t: TensorInit): Uint8Array => modelBytes({ initializer: [t] });
const initializerOf = (bytes: Uint8Array) => parseModel(bytes).graph.initializers[0]!;

function expectOnnxError(f: () => unknown, code: OnnxFormatError['code'], message: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OnnxFormatError);
    expect((e as OnnxFormatError).code).toBe(code);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected an OnnxFormatError');
}

describe('parseModel: tensor encodings of other tools', () => {
  it('reads float_data', () => {
    const t = initializerOf(init({ name: 'w', dims: [2n], dataType: DT.FLOAT, floatData: [1.5, -2] }));
    expect(t).toEqual({ name: 'w', dtype: 'float32', shape: [2], data: Float32Array.from([1.5, -2]) });
  });
  it('reads int64_data', () => {
    const t = initializerOf(init({ name: 's', dims: [2n], dataType: DT.INT64, int64Data: [-1n, 2n ** 40n] }));
    expect(t.data).toEqual(BigInt64Array.from([-1n, 2n ** 40n]));
  });
  it('reads int32_data for int32, uint8 and bool', () => {
    expect(initializerOf(init({ name: 'a', dims: [2n], dataType: DT.INT32, int32Data: [-5, 7] })).data).toEqual(Int32Array.from([-5, 7]));
    expect(initializerOf(init({ name: 'b', dims: [2n], dataType: DT.UINT8, int32Data: [0, 255] })).data).toEqual(Uint8Array.from([0, 255]));
    const b = initializerOf(init({ name: 'c', dims: [3n], dataType: DT.BOOL, int32Data: [1, 0, 1] }));
    expect(b).toEqual({ name: 'c', dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) });
  });
  it('reads unaligned raw_data (copies into an aligned buffer)', () => {
    const raw = new Uint8Array(new Float32Array([3.25, -1]).buffer);
    const t = initializerOf(init({ name: 'w', dims: [2n], dataType: DT.FLOAT, rawData: raw }));
    expect(t.data).toEqual(Float32Array.from([3.25, -1]));
    expect(t.data.byteOffset).toBe(0);
  });
  it('reads scalars and empty tensors', () => {
    expect(initializerOf(init({ name: 's', dataType: DT.FLOAT, floatData: [4] })).shape).toEqual([]);
    expect(initializerOf(init({ name: 'e', dims: [0n, 3n], dataType: DT.FLOAT })).data).toEqual(new Float32Array(0));
  });
  it('refuses a tensor whose data does not match its shape', () => {
    expectOnnxError(() => parseModel(init({ name: 'w', dims: [3n], dataType: DT.FLOAT, floatData: [1] })), 'malformed', /initializer 'w' has 1 elements, its shape needs 3/);
    expectOnnxError(() => parseModel(init({ name: 'w', dims: [3n], dataType: DT.FLOAT })), 'malformed', /initializer 'w' has no data/);
    expectOnnxError(
      () => parseModel(init({ name: 'w', dims: [3n], dataType: DT.FLOAT, rawData: new Uint8Array(8) })),
      'malformed',
      /'w' has 8 bytes of data, its shape needs 12/,
    );
  });
});

describe('parseModel: external data', () => {
  const external = (location: string, offset?: number, length?: number): TensorInit => ({
    name: 'big',
    dims: [2n, 2n],
    dataType: DT.FLOAT,
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      ...(offset === undefined ? [] : [{ key: 'offset', value: String(offset) }]),
      ...(length === undefined ? [] : [{ key: 'length', value: String(length) }]),
    ],
  });

  it('refuses with a clear error instead of producing zeros', () => {
    expectOnnxError(() => parseModel(init(external('model.onnx.data', 0, 16))), 'external-data', /'big'.*external file\(s\) model\.onnx\.data/);
  });
  it('reads the weights through ParseOptions.externalData, honouring offset and length', () => {
    const file = new Uint8Array(4 + 16);
    file.set(new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer), 4);
    const t = parseModel(init(external('w.bin', 4, 16)), { externalData: (loc) => (loc === 'w.bin' ? file : undefined) }).graph.initializers[0]!;
    expect(t.data).toEqual(Float32Array.from([1, 2, 3, 4]));
  });
  it('says which file is missing and catches out-of-range offsets', () => {
    const opts = { externalData: () => undefined };
    expectOnnxError(() => parseModel(init(external('other.bin')), opts), 'external-data', /'big' keeps its weights in the external file other\.bin/);
    expectOnnxError(() => parseModel(init(external('w.bin', 8, 16)), { externalData: () => new Uint8Array(16) }), 'malformed', /outside the external file w\.bin/);
  });
});

describe('parseModel: graphs of other tools', () => {
  it('turns dim_param and missing dims into -1 and drops initializers listed as inputs (IR < 4)', () => {
    const m = parseModel(
      modelBytes({
        input: [
          { name: 'x', type: tensorType(DT.FLOAT, ['batch', 3, null]) },
          { name: 'w', type: tensorType(DT.FLOAT, [1]) },
        ],
        output: [{ name: 'y', type: tensorType(DT.FLOAT, ['batch', 3, null]) }],
        initializer: [{ name: 'w', dims: [1n], dataType: DT.FLOAT, floatData: [2] }],
        node: [{ opType: 'Mul', input: ['x', 'w'], output: ['y'] }],
      }),
    );
    expect(m.graph.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: [-1, 3, -1] }]);
    // A node-produced graph output is part of valueInfo, as the builder records it.
    expect([...m.graph.valueInfo.keys()]).toEqual(['y']);
    expect(m.opsets).toEqual([{ domain: '', version: 13 }]);
    expect(m.producerName).toBeUndefined();
  });

  it('infers the kind of attributes written without a type (very old exporters)', () => {
    const m = parseModel(
      modelBytes({
        node: [
          {
            opType: 'X',
            output: ['o'],
            attribute: [
              { name: 'i', i: 3n },
              { name: 'f', f: 0.5 },
              { name: 's', s: new TextEncoder().encode('abc') },
              { name: 'is', ints: [1n, 2n] },
              { name: 'fs', floats: [0.5] },
            ],
          },
        ],
      }),
    );
    expect(m.graph.nodes[0]!.attrs).toEqual({
      i: { kind: 'int', value: 3 },
      f: { kind: 'float', value: 0.5 },
      s: { kind: 'string', value: 'abc' },
      is: { kind: 'ints', value: [1, 2] },
      fs: { kind: 'floats', value: [0.5] },
    });
  });

  it('refuses what the IR cannot hold, naming it', () => {
    expectOnnxError(
      () => parseModel(init({ name: 'h', dims: [1n], dataType: DT.FLOAT16, rawData: new Uint8Array(2) })),
      'unsupported',
      /initializer 'h' has element type float16/,
    );
    const ifNode = { opType: 'If', name: 'branch', output: ['o'], attribute: [{ name: 'then_branch', type: AttrType.GRAPH, g: { name: 'b' } }] };
    expectOnnxError(() => parseModel(modelBytes({ node: [ifNode] })), 'unsupported', /attribute 'then_branch' of node 'branch' \(If\) is of kind GRAPH/);
    expectOnnxError(
      () => parseModel(modelBytes({ input: [{ name: 'seq', type: { value: { case: 'sequenceType', value: {} } } }] })),
      'unsupported',
      /graph input 'seq' is not a tensor with a known rank/,
    );
  });
});

describe('parseModel: bytes that are not ONNX', () => {
  const valid = modelBytes({ node: [{ opType: 'Relu', input: ['x'], output: ['y'] }], input: [{ name: 'x', type: tensorType(DT.FLOAT, [2]) }] });

  it('throws OnnxFormatError for empty, random, truncated and foreign bytes', () => {
    expectOnnxError(() => parseModel(new Uint8Array(0)), 'malformed', /empty/);
    expectOnnxError(() => parseModel(Uint8Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % 251)), 'malformed', /not a valid ONNX model/);
    expectOnnxError(() => parseModel(valid.subarray(0, valid.length - 3)), 'malformed', /not a valid ONNX model/);
    expectOnnxError(() => parseModel(new TextEncoder().encode('<!DOCTYPE html><html>404</html>')), 'malformed', /web page/);
  });
  it('refuses a protobuf that is not a complete model', () => {
    const proto = (init: MessageInitShape<typeof ModelProtoSchema>) => toBinary(ModelProtoSchema, create(ModelProtoSchema, init));
    expectOnnxError(() => parseModel(proto({ irVersion: 8n, opsetImport: [{ version: 17n }] })), 'malformed', /it has no graph/);
    expectOnnxError(() => parseModel(proto({ irVersion: 8n, graph: { name: 'g' } })), 'malformed', /it declares no opset/);
    expectOnnxError(() => parseModel(proto({ opsetImport: [{ version: 17n }], graph: { name: 'g' } })), 'malformed', /no valid ir_version/);
  });
  it('never throws anything but OnnxFormatError on any truncation of a valid model', () => {
    for (let n = 0; n < valid.length; n++) {
      try {
        parseModel(valid.subarray(0, n));
      } catch (e) {
        expect(e).toBeInstanceOf(OnnxFormatError);
      }
    }
  });
});
