// A small but valid image encoder for unit and e2e tests: [N,3,32,32] → flatten → linear → [N,128], with a
// dynamic batch dimension like real exports. ~1.5 MB, so download progress is visible.
import { createHash } from 'node:crypto';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataLocation } from 'onnx-buf';
import { DEFAULT_OPSET, type Model } from '../core/onnx/graph';
import { serializeModel } from '../core/onnx/serialize';

export const ENCODER_DIM = 128;

/**
 * `w`: the [3072, 128] weight (row-major). The default's rows are sinusoids of one frequency, so
 * every embedding lies in one plane and all images look alike to it; a random projection
 * (randomProjection) keeps the pixels' angles apart, as a collapse test needs.
 */
export function tinyEncoderBytes(w: Float32Array = Float32Array.from({ length: 3 * 32 * 32 * ENCODER_DIM }, (_, i) => Math.sin(i * 0.0137) * 0.02)): Uint8Array {
  const model: Model = {
    opsets: [{ domain: '', version: DEFAULT_OPSET }],
    producerName: 'dede-web e2e',
    graph: {
      name: 'tiny_encoder',
      inputs: [{ name: 'pixel_values', dtype: 'float32', shape: [-1, 3, 32, 32] }],
      outputs: [{ name: 'embedding', dtype: 'float32', shape: [-1, ENCODER_DIM] }],
      initializers: [
        { name: 'flat_shape', dtype: 'int64', shape: [2], data: BigInt64Array.from([-1n, 3072n]) },
        { name: 'w', dtype: 'float32', shape: [3072, ENCODER_DIM], data: w },
      ],
      nodes: [
        { op: 'Reshape', inputs: ['pixel_values', 'flat_shape'], outputs: ['flat'], attrs: {} },
        { op: 'MatMul', inputs: ['flat', 'w'], outputs: ['embedding'], attrs: {} },
      ],
      valueInfo: new Map([['flat', { name: 'flat', dtype: 'float32', shape: [-1, 3072] }]]),
    },
  };
  return serializeModel(model);
}

/** A seeded random [3072, 128] weight for tinyEncoderBytes: near-orthogonal pixels stay apart. */
export function randomProjection(seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: 3 * 32 * 32 * ENCODER_DIM }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 0.04;
  });
}

export const PREPROCESSOR_CONFIG = new TextEncoder().encode(
  JSON.stringify({ do_resize: true, size: { height: 32, width: 32 }, do_normalize: true, image_mean: [0.4914, 0.4822, 0.4465], image_std: [0.247, 0.243, 0.261] }),
);

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The same encoder with its weight moved to an external data file, as large exports are saved:
 * returns the .onnx bytes and the data file the model names (`location`).
 */
export function externalDataEncoder(location = 'model.onnx_data'): { model: Uint8Array; data: Uint8Array } {
  const proto = fromBinary(ModelProtoSchema, tinyEncoderBytes());
  const w = proto.graph!.initializer.find((t) => t.name === 'w')!;
  const data = w.rawData.slice();
  w.rawData = new Uint8Array(0);
  w.dataLocation = TensorProto_DataLocation.EXTERNAL;
  w.externalData = [
    { $typeName: 'onnx.StringStringEntryProto', key: 'location', value: location },
    { $typeName: 'onnx.StringStringEntryProto', key: 'offset', value: '0' },
    { $typeName: 'onnx.StringStringEntryProto', key: 'length', value: String(data.length) },
  ];
  return { model: toBinary(ModelProtoSchema, proto), data };
}
