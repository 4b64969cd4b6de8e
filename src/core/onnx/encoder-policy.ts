// What the app and the CLI accept as an image encoder, judged on inspectModel's summary (inspect.ts
// scans the protobuf; this file holds the policy): the external-data limit of the browser runtime,
// and the image-encoder check (one [N, 3, H, W] image input, an output readable as an embedding).

import { formatDims } from './dims';
import type { ModelInfo, TensorInfo } from './inspect';
import { noCandidateReason, readoutCandidates, type ReadoutCandidate } from './readout';

// ---------------------------------------------------------------------------------------------
// External data

/**
 * The most external weight bytes a model may declare. ONNX Runtime Web runs in 32-bit WebAssembly
 * (a 4 GiB heap) and holds the weights there beside the model's working memory, while the page
 * keeps its own copy until the session is built: past 2 GiB loading cannot succeed, so it is
 * refused before anything is downloaded or allocated.
 */
export const MAX_EXTERNAL_DATA_BYTES = 2 * 1024 ** 3;

/** The reason the model's external data cannot be loaded here, or null when it can. */
export function externalDataProblem(info: Pick<ModelInfo, 'externalData'>, limit = MAX_EXTERNAL_DATA_BYTES): string | null {
  const total = info.externalData.reduce((n, f) => n + f.bytes, 0);
  if (total <= limit) return null;
  return `its weights are kept in ${describeExternalData(info)}, more than the ${formatGB(limit)} a browser can load; use a smaller export (e.g. float16 or a smaller model)`;
}

/** "model.onnx_data, 3.2 GB" for each external file. */
export function describeExternalData(info: Pick<ModelInfo, 'externalData'>): string {
  return info.externalData.map((f) => `${f.location}, ${formatGB(f.bytes)}`).join('; ');
}

function formatGB(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

// ---------------------------------------------------------------------------------------------
// Image encoder check

export type ImageEncoderCheck =
  | {
      readonly ok: true;
      readonly input: string;
      /** float16 models get their pixels converted at the input (and their outputs back to float32). */
      readonly inputType: 'float32' | 'float16';
      readonly inputSize: { readonly h: number; readonly w: number } | null;
      /** Every output that can be read as an embedding (defaultReadout picks among them). */
      readonly candidates: readonly ReadoutCandidate[];
    }
  | { readonly ok: false; readonly reason: string };

/**
 * An image encoder takes one float32 or float16 [N, 3, H, W] image batch (N, H, W may be dynamic;
 * channels 3 or dynamic) and has at least one output that can be read as an embedding: [N, D],
 * [N, D, 1, 1], [N, C, H, W] or [N, T, D] (see readoutCandidates).
 */
export function checkImageEncoder(info: ModelInfo): ImageEncoderCheck {
  const input = checkImageInput(info.inputs);
  if (typeof input === 'string') return { ok: false, reason: input };
  const candidates = readoutCandidates(info);
  if (candidates.length === 0) return { ok: false, reason: noCandidateReason(info) };
  const [h, w] = [input.dims![2], input.dims![3]];
  return {
    ok: true,
    input: input.name,
    inputType: input.elemType === 'float16' ? 'float16' : 'float32',
    inputSize: typeof h === 'number' && typeof w === 'number' ? { h, w } : null,
    candidates,
  };
}

/** The image input, or the reason it is not one. */
function checkImageInput(inputs: readonly TensorInfo[]): TensorInfo | string {
  const expected = 'expected float32 images shaped [batch, 3, height, width]';
  if (inputs.length === 0) return `the model has no inputs; ${expected}.`;
  const tokens = inputs.filter(isTokenInput);
  const tokenNames = tokens.map((i) => `'${i.name}'`).join(', ');
  if (tokens.length > 0 && tokens.length === inputs.length) {
    return `this looks like a text model (token input${tokens.length > 1 ? 's' : ''} ${tokenNames}), not an image encoder; for a CLIP-style model pick its vision (image) encoder .onnx; ${expected}.`;
  }
  if (inputs.length > 1) {
    const joint = tokens.length > 0 ? ` ${tokenNames} ${tokens.length > 1 ? 'hold' : 'holds'} text tokens: this looks like a joint text-image model (CLIP-style); pick its vision (image) encoder .onnx.` : '';
    return `the model has ${inputs.length} inputs (${inputs.map((i) => `'${i.name}'`).join(', ')}); an image encoder takes a single image input (${expected}).${joint}`;
  }
  const input = inputs[0]!;
  const prefix = `input '${input.name}'`;
  if (input.kind !== 'tensor') return `${prefix} is a ${input.kind}, not a tensor; ${expected}.`;
  if (input.elemType === 'float64' || input.elemType === 'bfloat16') {
    return `${prefix} holds ${input.elemType}, which the browser runtime cannot feed images in; export the encoder in float32 (float16 also works), e.g. call model.float() before torch.onnx.export.`;
  }
  if (input.elemType !== 'float32' && input.elemType !== 'float16') return `${prefix} holds ${input.elemType || 'an undeclared type'}; ${expected}.`;
  if (input.dims === null) return `${prefix} does not declare its shape; ${expected}.`;
  if (input.dims.length !== 4) return `${prefix} is shaped ${formatDims(input.dims)} (rank ${input.dims.length}); ${expected}.`;
  const channels = input.dims[1];
  if (input.dims[3] === 3 && channels !== 3) {
    return `${prefix} is shaped ${formatDims(input.dims)}: channels last (NHWC); export the encoder channels first, as [batch, 3, height, width] (e.g. put a Transpose at its input).`;
  }
  if (typeof channels === 'number' && channels !== 3) {
    return `${prefix} is shaped ${formatDims(input.dims)}: it takes ${channels} channels, an RGB encoder takes 3; ${expected}.`;
  }
  return input;
}

/** Integer ids (input_ids, token_type_ids, attention_mask, …) are what text models take, never images. */
function isTokenInput(i: TensorInfo): boolean {
  return i.kind === 'tensor' && /^u?int(8|16|32|64)$/.test(i.elemType) && /ids|token|mask|text/i.test(i.name);
}


