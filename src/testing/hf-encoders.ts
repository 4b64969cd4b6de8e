// Tiny encoders shaped like Hugging Face ONNX exports (transformers.js / optimum layouts), for the
// readout tests: the outputs' names, ranks and meanings follow the real models, the sizes do not.
// - ViTModel: last_hidden_state [N, T, D] (CLS first) and pooler_output [N, D] (dense + tanh of CLS);
// - ResNetModel: last_hidden_state [N, C, 7, 7] and pooler_output [N, C, 1, 1] (its average pool);
// - CLIPVisionModelWithProjection: image_embeds [N, P] and last_hidden_state [N, T, D].
// The batch dimension is symbolic ('batch_size'), as exporters write it. `withIoType` gives the
// same model with float16 (or float64) inputs and outputs, Cast at the boundary as fp16 exports do.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, NodeProtoSchema, TensorProto_DataType, type ModelProto, type TypeProto } from 'onnx-buf';
import { attr, DEFAULT_OPSET, type GraphNode, type Initializer, type Model, type ValueInfo } from '../core/onnx/graph';
import { serializeModel } from '../core/onnx/serialize';

/** Token width, patch grid and channels of the fixtures. */
export const HF = { size: 32, patch: 8, tokens: 17, hidden: 16, projection: 12, channels: 16, grid: 7, resnetSize: 28 } as const;

const weights = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed) * 0.3);
const f32 = (name: string, shape: number[], seed: number): Initializer => ({ name, dtype: 'float32', shape, data: weights(shape.reduce((a, b) => a * b, 1), seed) });
const i64 = (name: string, values: number[]): Initializer => ({ name, dtype: 'int64', shape: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
const node = (op: string, inputs: string[], outputs: string[], attrs: GraphNode['attrs'] = {}): GraphNode => ({ op, inputs, outputs, attrs });

function model(name: string, inputs: ValueInfo[], outputs: ValueInfo[], nodes: GraphNode[], initializers: Initializer[]): Uint8Array {
  const m: Model = { opsets: [{ domain: '', version: DEFAULT_OPSET }], producerName: 'pytorch', graph: { name, inputs, outputs, nodes, initializers, valueInfo: new Map() } };
  return symbolicBatch(serializeModel(m));
}

/** Dims written without a value (our -1) become the exporters' symbolic 'batch_size'. */
function symbolicBatch(bytes: Uint8Array): Uint8Array {
  const proto = fromBinary(ModelProtoSchema, bytes);
  for (const v of [...proto.graph!.input, ...proto.graph!.output]) {
    const t = tensorType(v.type);
    for (const d of t?.shape?.dim ?? []) if (d.value.case === undefined) d.value = { case: 'dimParam', value: 'batch_size' };
  }
  return toBinary(ModelProtoSchema, proto);
}

function tensorType(type: TypeProto | undefined) {
  return type?.value.case === 'tensorType' ? type.value.value : undefined;
}

/** ViT body: Conv patches → tokens [N, 16, D]; CLS = mean of patches + a learnt token; → Tanh(tokens · W + pos). */
function vitBody(): { nodes: GraphNode[]; inits: Initializer[] } {
  const { hidden: D, patch: P, tokens: T } = HF;
  return {
    nodes: [
      node('Conv', ['pixel_values', 'patch_w', 'patch_b'], ['patches'], { kernel_shape: attr.ints([P, P]), strides: attr.ints([P, P]) }),
      node('Reshape', ['patches', 'seq_shape'], ['seq_t']),
      node('Transpose', ['seq_t'], ['seq'], { perm: attr.ints([0, 2, 1]) }),
      node('ReduceMean', ['seq'], ['seq_mean'], { axes: attr.ints([1]), keepdims: attr.int(1) }),
      node('Add', ['seq_mean', 'cls_token'], ['cls']),
      node('Concat', ['cls', 'seq'], ['tokens'], { axis: attr.int(1) }),
      node('MatMul', ['tokens', 'block_w'], ['mixed']),
      node('Add', ['mixed', 'pos_embed'], ['mixed_pos']),
      node('Tanh', ['mixed_pos'], ['last_hidden_state']),
      node('Gather', ['last_hidden_state', 'zero'], ['cls_out'], { axis: attr.int(1) }),
    ],
    inits: [
      f32('patch_w', [D, 3, P, P], 1),
      f32('patch_b', [D], 2),
      i64('seq_shape', [0, D, -1]),
      f32('cls_token', [1, 1, D], 3),
      f32('block_w', [D, D], 4),
      f32('pos_embed', [1, T, D], 5),
      { name: 'zero', dtype: 'int64', shape: [], data: BigInt64Array.from([0n]) },
    ],
  };
}

const pixels = (size: number): ValueInfo => ({ name: 'pixel_values', dtype: 'float32', shape: [-1, 3, size, size] });

/** ViTModel: last_hidden_state [N, 17, 16] and pooler_output [N, 16] = tanh(CLS · W + b). */
export function vitModelBytes(): Uint8Array {
  const { hidden: D, tokens: T } = HF;
  const body = vitBody();
  return model(
    'vit_model',
    [pixels(HF.size)],
    [
      { name: 'last_hidden_state', dtype: 'float32', shape: [-1, T, D] },
      { name: 'pooler_output', dtype: 'float32', shape: [-1, D] },
    ],
    [...body.nodes, node('MatMul', ['cls_out', 'pooler_w'], ['pooler_pre']), node('Add', ['pooler_pre', 'pooler_b'], ['pooler_lin']), node('Tanh', ['pooler_lin'], ['pooler_output'])],
    [...body.inits, f32('pooler_w', [D, D], 6), f32('pooler_b', [D], 7)],
  );
}

/** CLIPVisionModelWithProjection: image_embeds [N, 12] = CLS · W_proj, and last_hidden_state [N, 17, 16]. */
export function clipVisionBytes(): Uint8Array {
  const { hidden: D, tokens: T, projection: Pj } = HF;
  const body = vitBody();
  return model(
    'clip_vision',
    [pixels(HF.size)],
    [
      { name: 'image_embeds', dtype: 'float32', shape: [-1, Pj] },
      { name: 'last_hidden_state', dtype: 'float32', shape: [-1, T, D] },
    ],
    [...body.nodes, node('MatMul', ['cls_out', 'visual_projection'], ['image_embeds'])],
    [...body.inits, f32('visual_projection', [D, Pj], 8)],
  );
}

/** ResNetModel: last_hidden_state [N, 16, 7, 7] = Relu(Conv 4×4 stride 4 of 28×28), pooler_output = its average pool [N, 16, 1, 1]. */
export function resnetModelBytes(opts: { pooler?: boolean } = {}): Uint8Array {
  const { channels: C, grid: G } = HF;
  const pooler = opts.pooler ?? true;
  return model(
    'resnet_model',
    [pixels(HF.resnetSize)],
    [
      { name: 'last_hidden_state', dtype: 'float32', shape: [-1, C, G, G] },
      ...(pooler ? [{ name: 'pooler_output', dtype: 'float32' as const, shape: [-1, C, 1, 1] }] : []),
    ],
    [
      node('Conv', ['pixel_values', 'stem_w', 'stem_b'], ['stem'], { kernel_shape: attr.ints([4, 4]), strides: attr.ints([4, 4]) }),
      node('Relu', ['stem'], ['last_hidden_state']),
      ...(pooler ? [node('GlobalAveragePool', ['last_hidden_state'], ['pooler_output'])] : []),
    ],
    [f32('stem_w', [C, 3, 4, 4], 9), f32('stem_b', [C], 10)],
  );
}

/**
 * The model with its image input and every output in `type` (float16 or float64): Cast nodes at
 * the boundary, the body unchanged in float32, the way fp16 exports keep numerically fragile ops.
 */
export function withIoType(bytes: Uint8Array, type: 'float16' | 'float64'): Uint8Array {
  const code = type === 'float16' ? TensorProto_DataType.FLOAT16 : TensorProto_DataType.DOUBLE;
  const proto: ModelProto = fromBinary(ModelProtoSchema, bytes);
  const g = proto.graph!;
  const rename = (from: string, to: string) => {
    for (const n of g.node) {
      n.input = n.input.map((i) => (i === from ? to : i));
      n.output = n.output.map((o) => (o === from ? to : o));
    }
  };
  const cast = (from: string, to: string, target: number) =>
    create(NodeProtoSchema, { opType: 'Cast', name: `cast_${to}`, input: [from], output: [to], attribute: [{ name: 'to', type: 2, i: BigInt(target) }] });
  const head = [];
  for (const input of g.input) {
    rename(input.name, `${input.name}_f32`);
    head.push(cast(input.name, `${input.name}_f32`, TensorProto_DataType.FLOAT));
    tensorType(input.type)!.elemType = code;
  }
  const tail = [];
  for (const output of g.output) {
    rename(output.name, `${output.name}_f32`);
    tail.push(cast(`${output.name}_f32`, output.name, code));
    tensorType(output.type)!.elemType = code;
  }
  g.node = [...head, ...g.node, ...tail];
  return toBinary(ModelProtoSchema, proto);
}

/** config.json as transformers writes it, reduced to what the readout default reads. */
export function hfConfig(modelType: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model_type: modelType, architectures: [`${modelType}Model`], ...extra };
}
