import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType as DT,
  type GraphProto,
  type ModelProto,
} from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { attr, type Model } from './graph';
import { checkImageEncoder } from './encoder-policy';
import { inspectModel, OnnxFormatError, type ModelInfo, type TensorInfo } from './inspect';
import { serializeModel } from './serialize';

// The plain-object forms of the init shapes (not already-built messages), so that they spread.
type GraphInit = Exclude<MessageInitShape<typeof GraphProtoSchema>, GraphProto>;
type ModelInit = Exclude<MessageInitShape<typeof ModelProtoSchema>, ModelProto>;
type Dim = number | string | null;

function modelBytes(graph: GraphInit, extra: ModelInit = {}): Uint8Array {
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 9n,
      producerName: 'pytorch',
      producerVersion: '2.5.0',
      opsetImport: [{ domain: '', version: 18n }],
      ...extra,
      graph: { name: 'g', ...graph },
    }),
  );
}

function valueInfo(name: string, elemType: number, dims: Dim[] | null) {
  const dim = (d: Dim) =>
    d === null ? {} : typeof d === 'number' ? { value: { case: 'dimValue' as const, value: BigInt(d) } } : { value: { case: 'dimParam' as const, value: d } };
  return { name, type: { value: { case: 'tensorType' as const, value: { elemType, ...(dims === null ? {} : { shape: { dim: dims.map(dim) } }) } } } };
}

/** An encoder-shaped model: image input, pooled embedding output and a token output. */
function encoderBytes(input: Dim[] = ['batch', 3, 224, 224], outputs = [valueInfo('tokens', DT.FLOAT, ['batch', 50, 768]), valueInfo('embedding', DT.FLOAT, ['batch', 512])]) {
  return modelBytes(
    {
      input: [valueInfo('pixel_values', DT.FLOAT, input)],
      output: outputs,
      initializer: [
        { name: 'conv.w', dims: [768n, 3n, 32n, 32n], dataType: DT.FLOAT, rawData: new Uint8Array(768 * 3 * 32 * 32 * 4) },
        { name: 'proj', dims: [768n, 512n], dataType: DT.FLOAT, floatData: new Array<number>(768 * 512).fill(0.5) },
      ],
      node: [
        { opType: 'Conv', input: ['pixel_values', 'conv.w'], output: ['c'] },
        { opType: 'Gelu', domain: 'com.microsoft', input: ['c'], output: ['g'] },
        { opType: 'Flatten', input: ['g'], output: ['tokens'] },
        { opType: 'MatMul', input: ['tokens', 'proj'], output: ['embedding'] },
        { opType: 'Conv', domain: 'ai.onnx', input: ['x'], output: ['unused'] },
      ],
    },
    { opsetImport: [{ domain: '', version: 18n }, { domain: 'com.microsoft', version: 1n }], metadataProps: [{ key: 'license', value: 'mit' }] },
  );
}

function expectFormatError(bytes: Uint8Array, message?: RegExp): void {
  let error: unknown;
  try {
    inspectModel(bytes);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(OnnxFormatError);
  if (message) expect((error as Error).message).toMatch(message);
}

describe('inspectModel', () => {
  it('reports the header, inputs/outputs with symbolic dims, op types and parameters', () => {
    const info = inspectModel(encoderBytes());
    expect(info).toEqual<ModelInfo>({
      irVersion: 9,
      producerName: 'pytorch',
      producerVersion: '2.5.0',
      opsets: [
        { domain: '', version: 18 },
        { domain: 'com.microsoft', version: 1 },
      ],
      inputs: [{ name: 'pixel_values', kind: 'tensor', elemType: 'float32', dims: ['batch', 3, 224, 224] }],
      outputs: [
        { name: 'tokens', kind: 'tensor', elemType: 'float32', dims: ['batch', 50, 768] },
        { name: 'embedding', kind: 'tensor', elemType: 'float32', dims: ['batch', 512] },
      ],
      parameterCount: 768 * 3 * 32 * 32 + 768 * 512,
      initializerCount: 2,
      externalData: [],
      nodeCount: 5,
      opTypes: ['Conv', 'Flatten', 'MatMul', 'com.microsoft:Gelu'],
      metadata: { license: 'mit' },
    });
  });

  it('reports unknown dims as null, unknown rank as null dims, other types by name', () => {
    const info = inspectModel(
      modelBytes({
        input: [
          valueInfo('a', DT.FLOAT16, [null, 3]),
          valueInfo('b', DT.INT64, null),
          { name: 'c', type: { value: { case: 'sequenceType', value: {} } } },
          { name: 'd' },
        ],
      }),
    );
    expect(info.inputs).toEqual<TensorInfo[]>([
      { name: 'a', kind: 'tensor', elemType: 'float16', dims: [null, 3] },
      { name: 'b', kind: 'tensor', elemType: 'int64', dims: null },
      { name: 'c', kind: 'sequence', elemType: '', dims: null },
      { name: 'd', kind: 'unknown', elemType: '', dims: null },
    ]);
  });

  it('leaves out inputs that are initializers (IR < 4 exports)', () => {
    const info = inspectModel(
      modelBytes({
        input: [valueInfo('x', DT.FLOAT, [1, 3, 8, 8]), valueInfo('w', DT.FLOAT, [2])],
        initializer: [{ name: 'w', dims: [2n], dataType: DT.FLOAT, floatData: [1, 2] }],
      }),
    );
    expect(info.inputs.map((i) => i.name)).toEqual(['x']);
  });

  it('lists external data files and counts their parameters from dims', () => {
    const ext = (name: string, dims: bigint[], entries: [string, string][]) => ({
      name,
      dims,
      dataType: DT.FLOAT,
      dataLocation: TensorProto_DataLocation.EXTERNAL,
      externalData: entries.map(([key, value]) => ({ key, value })),
    });
    const info = inspectModel(
      modelBytes({
        initializer: [
          ext('a', [1000n, 1000n], [['location', 'model.onnx.data'], ['offset', '0'], ['length', '4000000']]),
          ext('b', [10n], [['location', 'model.onnx.data'], ['offset', '4000000']]), // no length: 10 floats
          ext('c', [3n], [['location', 'extra.bin']]),
          { name: 'inline', dims: [5n], dataType: DT.FLOAT, rawData: new Uint8Array(20) },
        ],
      }),
    );
    expect(info.parameterCount).toBe(1_000_000 + 10 + 3 + 5);
    expect(info.externalData).toEqual([
      { location: 'model.onnx.data', bytes: 4_000_040, tensors: 2 },
      { location: 'extra.bin', bytes: 12, tensors: 1 },
    ]);
  });

  it('agrees with serializeModel output', () => {
    const model: Model = {
      graph: {
        name: 'g',
        inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }],
        initializers: [{ name: 's', dtype: 'int64', shape: [2], data: BigInt64Array.from([-1n, 4n]) }],
        nodes: [{ op: 'Reshape', inputs: ['x', 's'], outputs: ['y'], attrs: { allowzero: attr.int(0) } }],
        valueInfo: new Map(),
      },
      opsets: [],
      producerName: 'dede-web',
    };
    const info = inspectModel(serializeModel(model));
    expect(info).toMatchObject({ irVersion: 8, producerName: 'dede-web', opsets: [{ domain: '', version: 17 }], parameterCount: 2 });
    expect(info.inputs[0]!.dims).toEqual([null, 4]);
  });

  it('reads packed and unpacked repeated dims alike', () => {
    // TensorProto { dims: [2, 3] packed (field 1, wire 2), data_type: FLOAT, name: "w" }
    const tensor = [0x0a, 0x02, 0x02, 0x03, 0x10, 0x01, 0x42, 0x01, 0x77];
    const graph = [0x2a, tensor.length, ...tensor, 0x12, 0x01, 0x67]; // initializer (5), name "g" (2)
    const model = [0x08, 0x08, 0x3a, graph.length, ...graph, 0x42, 0x02, 0x10, 0x11]; // ir 8, graph (7), opset v17 (8)
    expect(inspectModel(Uint8Array.from(model)).parameterCount).toBe(6);
  });
});

describe('inspectModel on bytes that are not ONNX', () => {
  const valid = encoderBytes();

  it('throws OnnxFormatError for random bytes of many sizes', () => {
    let seed = 42;
    const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 24);
    for (let trial = 0; trial < 300; trial++) {
      expectFormatError(Uint8Array.from({ length: 1 + ((trial * 37) % 3000) }, next));
    }
  });

  it('throws OnnxFormatError for truncated files (with a hint) and never anything else', () => {
    expectFormatError(valid.subarray(0, valid.length >> 1), /truncated/);
    const small = modelBytes({ input: [valueInfo('x', DT.FLOAT, ['n', 3, 32, 32])], node: [{ opType: 'Relu', input: ['x'], output: ['y'] }] });
    for (let n = 0; n < small.length; n++) {
      try {
        inspectModel(small.subarray(0, n));
      } catch (e) {
        expect(e).toBeInstanceOf(OnnxFormatError);
      }
    }
  });

  it('names common wrong files and empty input', () => {
    expectFormatError(new Uint8Array(0), /empty/);
    expectFormatError(new TextEncoder().encode('<!doctype html><title>Not Found</title>'), /web page/);
    expectFormatError(Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4, 5, 6]), /PyTorch/);
    expectFormatError(new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc'), /Git LFS/);
  });

  it('refuses well-formed protobuf that is not a model, and group / bad wire types', () => {
    expectFormatError(toBinary(ModelProtoSchema, create(ModelProtoSchema, { irVersion: 8n, opsetImport: [{ version: 17n }] })), /no graph/);
    expectFormatError(Uint8Array.from([0x08, 0x08, 0x0b, 0x0c]), /wire type 3/); // a group
    expectFormatError(Uint8Array.from([0x3a, 0x00, 0x0f]), /wire type 7/);
    expectFormatError(Uint8Array.from([0x0a, 0x01, 0x00]), /ir_version has wire type 2/);
    expectFormatError(Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /malformed number/);
  });
});

describe('checkImageEncoder', () => {
  const check = (bytes: Uint8Array) => checkImageEncoder(inspectModel(bytes));

  it('accepts [batch, 3, H, W] and lists every output that reads as an embedding, with its poolings', () => {
    expect(check(encoderBytes())).toEqual({
      ok: true,
      input: 'pixel_values',
      inputType: 'float32',
      inputSize: { h: 224, w: 224 },
      candidates: [
        { output: 'tokens', elemType: 'float32', dims: ['batch', 50, 768], poolings: ['cls', 'patch-mean'], dim: 768 },
        { output: 'embedding', elemType: 'float32', dims: ['batch', 512], poolings: ['none'], dim: 512 },
      ],
    });
    const two = [valueInfo('first', DT.FLOAT, [null, 128]), valueInfo('second', DT.FLOAT, ['n', 64])];
    expect(check(encoderBytes(['n', 3, 32, 32], two))).toMatchObject({ ok: true, candidates: [{ output: 'first', dim: 128 }, { output: 'second', dim: 64 }], inputSize: { h: 32, w: 32 } });
  });

  it('accepts a float16 image input and float16 outputs', () => {
    const out = [valueInfo('pooler_output', DT.FLOAT16, ['n', 2048, 1, 1])];
    expect(check(modelBytes({ input: [valueInfo('pixel_values', DT.FLOAT16, ['n', 3, 224, 224])], output: out }))).toEqual({
      ok: true,
      input: 'pixel_values',
      inputType: 'float16',
      inputSize: { h: 224, w: 224 },
      candidates: [{ output: 'pooler_output', elemType: 'float16', dims: ['n', 2048, 1, 1], poolings: ['flatten'], dim: 2048 }],
    });
  });

  it('refuses float64 inputs and outputs, saying to export float32', () => {
    const r1 = check(modelBytes({ input: [valueInfo('pixel_values', DT.DOUBLE, ['n', 3, 8, 8])], output: [valueInfo('e', DT.DOUBLE, ['n', 4])] }));
    expect(r1).toEqual({ ok: false, reason: "input 'pixel_values' holds float64, which the browser runtime cannot feed images in; export the encoder in float32 (float16 also works), e.g. call model.float() before torch.onnx.export." });
    const r2 = check(modelBytes({ input: [valueInfo('pixel_values', DT.FLOAT, ['n', 3, 8, 8])], output: [valueInfo('e', DT.DOUBLE, ['n', 4])] }));
    expect(r2.ok ? '' : r2.reason).toBe(
      "no output can be read as an embedding: expected a float32 or float16 output shaped [batch, D], [batch, D, 1, 1], [batch, C, H, W] or [batch, tokens, D] (outputs found: 'e' is float64 [n, 4]). 'e' holds float64, which the browser runtime does not read as an embedding: export the encoder in float32 (float16 also works).",
    );
  });

  it('accepts dynamic channels/size and a dynamic embedding width', () => {
    const out = [valueInfo('e', DT.FLOAT, ['n', 'd'])];
    expect(check(encoderBytes(['n', 'c', 'h', 'w'], out))).toEqual({ ok: true, input: 'pixel_values', inputType: 'float32', inputSize: null, candidates: [{ output: 'e', elemType: 'float32', dims: ['n', 'd'], poolings: ['none'], dim: null }] });
    expect(check(encoderBytes([null, null, null, null], out))).toMatchObject({ ok: true, inputSize: null });
  });

  it('refuses a rank-2 input, saying what it found and what it expected', () => {
    const result = check(modelBytes({ input: [valueInfo('features', DT.FLOAT, ['batch', 512])], output: [valueInfo('logits', DT.FLOAT, ['batch', 10])] }));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe("input 'features' is shaped [batch, 512] (rank 2); expected float32 images shaped [batch, 3, height, width].");
    }
  });

  it('refuses other mismatches with a reason naming the input or outputs', () => {
    const reason = (bytes: Uint8Array) => {
      const r = check(bytes);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason(encoderBytes(['n', 1, 28, 28]))).toMatch(/input 'pixel_values' is shaped \[n, 1, 28, 28\]: it takes 1 channels, an RGB encoder takes 3/);
    expect(reason(modelBytes({ input: [valueInfo('x', DT.UINT8, ['n', 3, 8, 8])] }))).toMatch(/input 'x' holds uint8; expected float32/);
    expect(reason(modelBytes({ input: [valueInfo('x', DT.FLOAT, null)] }))).toMatch(/input 'x' does not declare its shape/);
    expect(reason(modelBytes({}))).toMatch(/no inputs/);
    expect(
      reason(modelBytes({ input: [valueInfo('input_ids', DT.INT64, ['n', 77]), valueInfo('pixel_values', DT.FLOAT, ['n', 3, 224, 224])] })),
    ).toMatch(/2 inputs \('input_ids', 'pixel_values'\); an image encoder takes a single image input/);
    expect(reason(encoderBytes(undefined, [valueInfo('tokens', DT.FLOAT, ['batch', 50, 768, 2, 2]), valueInfo('ids', DT.INT64, ['batch', 5])]))).toBe(
      "no output can be read as an embedding: expected a float32 or float16 output shaped [batch, D], [batch, D, 1, 1], [batch, C, H, W] or [batch, tokens, D] (outputs found: 'tokens' is float32 [batch, 50, 768, 2, 2]; 'ids' is int64 [batch, 5]).",
    );
  });
});
