// Which encoder output is the embedding, and how it becomes one [N, D] vector per image.
//
// Hub exports rarely end in a bare [N, D]: ViT-style models return their token sequence
// (`last_hidden_state` [N, T, D]) beside a `pooler_output`, ResNets their last feature map and its
// average-pooled [N, C, 1, 1], CLIP towers a projected `image_embeds`. Which one is "the" embedding
// depends on how the model was trained, which only its config.json tells; where nothing tells,
// the user is asked rather than given a guess.
import { formatDims } from './dims';
import type { DimInfo, ModelInfo, TensorInfo } from './inspect';

/**
 * How an output becomes [N, D]:
 * - `none`: it already is [N, D];
 * - `flatten`: [N, D, 1, 1] (a pooled feature map) read as [N, D];
 * - `avgpool`: global average pool of a feature map [N, C, H, W] over H and W;
 * - `cls`: token 0 (the CLS token) of a token sequence [N, T, D];
 * - `patch-mean`: mean of the patch tokens 1…T−1 of [N, T, D] (token 0, the CLS token, left out).
 */
export type EmbeddingPooling = 'none' | 'flatten' | 'avgpool' | 'cls' | 'patch-mean';

export const EMBEDDING_POOLINGS: readonly EmbeddingPooling[] = ['none', 'flatten', 'avgpool', 'cls', 'patch-mean'];

/** The readout: an output of the encoder and how it is pooled into the embedding. */
export interface EmbeddingReadout {
  readonly output: string;
  readonly pooling: EmbeddingPooling;
}

/** A readout with why it was chosen and the embedding size it gives (null when the model leaves it dynamic). */
export interface ReadoutChoice extends EmbeddingReadout {
  readonly reason: string;
  readonly dim: number | null;
}

/** A readout as files (decoder metadata, reports) record it: the choice, why, and the embedding size. */
export interface ReadoutRecord extends EmbeddingReadout {
  readonly reason?: string;
  readonly dim?: number;
}

/** The record of a readout (with the embedding size when known). */
export function readoutRecord(readout: EmbeddingReadout & { readonly reason?: string }, dim: number | null): ReadoutRecord {
  return { output: readout.output, pooling: readout.pooling, ...(readout.reason !== undefined ? { reason: readout.reason } : {}), ...(dim !== null ? { dim } : {}) };
}

/** "last_hidden_state, CLS token (token 0) → 768 values (why)", for reports. */
export function describeReadoutRecord(r: ReadoutRecord): string {
  return `${describeReadout(r)}${r.dim !== undefined ? ` → ${r.dim} values` : ''}${r.reason ? ` (${r.reason.replace(/\.$/, '')})` : ''}`;
}

/** An output that can be read as an embedding, with the poolings that fit its shape. */
export interface ReadoutCandidate {
  readonly output: string;
  readonly elemType: 'float32' | 'float16';
  readonly dims: readonly DimInfo[];
  readonly poolings: readonly EmbeddingPooling[];
  /** The embedding size every pooling of this output gives, or null when dynamic. */
  readonly dim: number | null;
}

/** The default readout, or (ok: false) why the user must choose: the reason names the candidates. */
export type DefaultReadout = { readonly ok: true; readonly choice: ReadoutChoice } | { readonly ok: false; readonly reason: string };

const POOLING_TEXT: Readonly<Record<EmbeddingPooling, string>> = {
  none: 'as is',
  flatten: 'flattened',
  avgpool: 'global average pool over height and width',
  cls: 'CLS token (token 0)',
  'patch-mean': 'mean of the patch tokens (1…T−1)',
};

/** "CLS token (token 0)" and the like. */
export function describePooling(pooling: EmbeddingPooling): string {
  return POOLING_TEXT[pooling];
}

/** "last_hidden_state, CLS token (token 0)"; a plain [N, D] output is just its name. */
export function describeReadout(readout: EmbeddingReadout): string {
  return readout.pooling === 'none' ? readout.output : `${readout.output}, ${POOLING_TEXT[readout.pooling]}`;
}

/** `NAME` or `NAME:pooling`, the form the CLI's --output flag takes. */
export function formatReadoutFlag(readout: EmbeddingReadout): string {
  return readout.pooling === 'none' ? readout.output : `${readout.output}:${readout.pooling}`;
}

/** Two readouts read the same numbers. */
export function sameReadout(a: EmbeddingReadout, b: EmbeddingReadout): boolean {
  return a.output === b.output && a.pooling === b.pooling;
}

export function isEmbeddingPooling(value: unknown): value is EmbeddingPooling {
  return typeof value === 'string' && (EMBEDDING_POOLINGS as readonly string[]).includes(value);
}

/** Float types an embedding can come in; float16 is converted to float32 as it leaves the model. */
function readableFloat(t: TensorInfo): t is TensorInfo & { elemType: 'float32' | 'float16' } {
  return t.kind === 'tensor' && (t.elemType === 'float32' || t.elemType === 'float16');
}

/** The poolings a shape allows (empty: it cannot be read as an embedding). */
export function poolingsForDims(dims: readonly DimInfo[]): EmbeddingPooling[] {
  if (dims.length === 2) return ['none'];
  if (dims.length === 3) return dims[1] === 1 ? ['cls'] : ['cls', 'patch-mean'];
  if (dims.length === 4) return dims[2] === 1 && dims[3] === 1 ? ['flatten'] : ['avgpool'];
  return [];
}

/** Every float32/float16 output that can be read as an embedding, in the model's order. */
export function readoutCandidates(info: Pick<ModelInfo, 'outputs'>): ReadoutCandidate[] {
  const out: ReadoutCandidate[] = [];
  for (const o of info.outputs) {
    if (!readableFloat(o) || o.dims === null) continue;
    const poolings = poolingsForDims(o.dims);
    if (poolings.length === 0) continue;
    const d = o.dims.length === 3 ? o.dims[2] : o.dims[1];
    out.push({ output: o.name, elemType: o.elemType, dims: o.dims, poolings, dim: typeof d === 'number' ? d : null });
  }
  return out;
}

/** "'last_hidden_state' [batch, 197, 768] (CLS token (token 0) or mean of the patch tokens (1…T−1))". */
export function describeCandidate(c: ReadoutCandidate): string {
  const how = c.poolings.length === 1 && c.poolings[0] === 'none' ? '' : ` (${c.poolings.map(describePooling).join(' or ')})`;
  return `'${c.output}' ${formatDims(c.dims)}${how}`;
}

/** Why nothing can be read as an embedding (for the encoder check's refusal). */
export function noCandidateReason(info: Pick<ModelInfo, 'outputs'>): string {
  const found = info.outputs.map(describeOutput).join('; ') || 'none';
  const wide = info.outputs.filter((o) => o.kind === 'tensor' && (o.elemType === 'float64' || o.elemType === 'bfloat16') && o.dims !== null && poolingsForDims(o.dims).length > 0);
  const fix = wide.length > 0 ? ` ${wide.map((o) => `'${o.name}'`).join(', ')} ${wide.length > 1 ? 'hold' : 'holds'} ${wide[0]!.elemType}, which the browser runtime does not read as an embedding: export the encoder in float32 (float16 also works).` : '';
  return `no output can be read as an embedding: expected a float32 or float16 output shaped [batch, D], [batch, D, 1, 1], [batch, C, H, W] or [batch, tokens, D] (outputs found: ${found}).${fix}`;
}

function describeOutput(v: TensorInfo): string {
  if (v.kind !== 'tensor') return `'${v.name}' is a ${v.kind}`;
  const dims = v.dims === null ? 'of unknown shape' : formatDims(v.dims);
  return `'${v.name}' is ${v.elemType || 'untyped'} ${dims}`;
}

// ---------------------------------------------------------------------------------------------
// The default readout

/** Models whose embedding is the CLS token of `last_hidden_state` (their pooler_output, if any, is not). */
const CLS_TYPES = new Set(['vit', 'dino', 'dinov2', 'deit', 'vit_msn', 'beit', 'data2vec-vision']);
/** Vision towers whose pooler_output is the pooled embedding they were trained with. */
const POOLER_TYPES = new Set(['clip', 'clip_vision_model', 'siglip', 'siglip_vision_model', 'siglip2', 'siglip2_vision_model']);
/** Convolutional networks: pooler_output is the global average pool of the last feature map. */
const CNN_TYPES = new Set(['resnet', 'regnet', 'convnext', 'convnextv2', 'efficientnet', 'bit', 'mobilenet_v1', 'mobilenet_v2', 'van', 'poolformer']);

interface ModelConfigFacts {
  readonly modelType: string | null;
  /** BEiT-style `use_mean_pooling` (absent: null). */
  readonly useMeanPooling: boolean | null;
}

function configFacts(config: unknown): ModelConfigFacts | null {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return null;
  const c = config as Record<string, unknown>;
  const vision = typeof c['vision_config'] === 'object' && c['vision_config'] !== null ? (c['vision_config'] as Record<string, unknown>) : null;
  const type = typeof c['model_type'] === 'string' ? c['model_type'].toLowerCase() : null;
  const meanPooling = c['use_mean_pooling'] ?? vision?.['use_mean_pooling'];
  return { modelType: type, useMeanPooling: typeof meanPooling === 'boolean' ? meanPooling : null };
}

function pick(c: ReadoutCandidate, pooling: EmbeddingPooling, reason: string): DefaultReadout {
  return { ok: true, choice: { output: c.output, pooling, reason, dim: c.dim } };
}

/**
 * The readout to use unless the user picks another, and why; `modelConfig` is the model's
 * config.json (null when there is none). Never guesses between outputs: several candidates and no
 * config that settles it give ok: false with a reason naming them.
 */
export function defaultReadout(info: Pick<ModelInfo, 'outputs'>, modelConfig: unknown): DefaultReadout {
  const candidates = readoutCandidates(info);
  if (candidates.length === 0) return { ok: false, reason: noCandidateReason(info) };
  const named = (name: string, rank?: number) => candidates.find((c) => c.output === name && (rank === undefined || c.dims.length === rank));
  const facts = configFacts(modelConfig);
  const type = facts?.modelType ?? null;

  const imageEmbeds = named('image_embeds', 2);
  if (imageEmbeds) return pick(imageEmbeds, 'none', "image_embeds is a CLIP-style export's projected image embedding, the vector it compares with text.");

  if (candidates.length === 1) {
    const only = candidates[0]!;
    const shape = `'${only.output}' ${formatDims(only.dims)}`;
    if (only.poolings.length === 1) {
      const p = only.poolings[0]!;
      const how = p === 'none' ? '' : p === 'flatten' ? ', flattened' : ', average-pooled over height and width';
      return pick(only, p, `${shape} is the model's only output that can be read as an embedding${how}.`);
    }
    if (type === null || !(CLS_TYPES.has(type) || POOLER_TYPES.has(type))) {
      return pick(only, 'cls', `${shape} is the model's only output that can be read as an embedding: its CLS token (token 0) is taken, the usual embedding of a ViT-style model${type ? ` (config.json's model_type ${type} does not say otherwise)` : ' (no config.json says otherwise)'}; choose the mean of the patch tokens if the model has no CLS token.`);
    }
  }

  if (type !== null) {
    const hidden = named('last_hidden_state', 3);
    const pooler = named('pooler_output', 2);
    if (type === 'beit' || type === 'data2vec-vision') {
      if (facts?.useMeanPooling !== false) {
        if (pooler) return pick(pooler, 'none', `model_type ${type} pools by the mean of its patch tokens (use_mean_pooling): pooler_output is that mean, layer-normed, the embedding its classifier is trained on.`);
        if (hidden) return pick(hidden, 'patch-mean', `model_type ${type} pools by the mean of its patch tokens (use_mean_pooling), and the export has no pooler_output.`);
      } else if (hidden) return pick(hidden, 'cls', `model_type ${type} with use_mean_pooling false: its embedding is the CLS token of last_hidden_state.`);
    }
    if (CLS_TYPES.has(type) && hidden) {
      const why =
        type === 'dinov2'
          ? 'DINOv2 is trained on its CLS token (its pooler_output is the same token)'
          : pooler
            ? `a ${type} model's embedding is its CLS token; its pooler_output is an extra dense + tanh layer that self-supervised checkpoints (DINO, MSN, …) never trained`
            : `a ${type} model's embedding is its CLS token`;
      return pick(hidden, 'cls', `model_type ${type}: ${why}.`);
    }
    if (POOLER_TYPES.has(type)) {
      const siglip = type.startsWith('siglip');
      if (pooler) {
        return pick(pooler, 'none', siglip
          ? `model_type ${type}: SigLIP has no CLS token; pooler_output is its attention-pooled embedding (the one it was trained to match with text).`
          : `model_type ${type}: pooler_output is CLIP's layer-normed CLS token, the embedding its projection reads (this export has no image_embeds).`);
      }
      if (hidden) {
        return siglip
          ? pick(hidden, 'patch-mean', `model_type ${type}: SigLIP has no CLS token and this export has no pooler_output, so the mean of the tokens is taken (token 0 left out, as for every patch-token mean).`)
          : pick(hidden, 'cls', `model_type ${type}: the export has neither image_embeds nor pooler_output; CLIP's embedding is its CLS token.`);
      }
    }
    if (CNN_TYPES.has(type)) {
      const pooled = named('pooler_output');
      if (pooled) return pick(pooled, pooled.poolings[0]!, `model_type ${type}: pooler_output ${formatDims(pooled.dims)} is the network's global average pool of its last feature map${pooled.poolings[0] === 'flatten' ? ', flattened' : ''}.`);
      const map = named('last_hidden_state', 4);
      if (map) return pick(map, 'avgpool', `model_type ${type}: the export has no pooler_output; its last feature map is average-pooled over height and width, as the network itself does.`);
    }
  }

  const names = candidates.map(describeCandidate).join(', ');
  const why = type === null ? 'no config.json says which one is the embedding' : `config.json's model_type ${type} does not say which one is the embedding`;
  return { ok: false, reason: `the model has ${candidates.length} candidate outputs (${names}) and ${why}: choose one.` };
}

/** Every readout a model allows, one per (output, pooling). */
export function readoutOptions(candidates: readonly ReadoutCandidate[]): (EmbeddingReadout & { readonly dim: number | null })[] {
  return candidates.flatMap((c) => c.poolings.map((pooling) => ({ output: c.output, pooling, dim: c.dim })));
}

/** A readout the user picked, as a choice with its reason; null when the model has no such option. */
export function chosenReadout(candidates: readonly ReadoutCandidate[], readout: EmbeddingReadout, reason: string): ReadoutChoice | null {
  const c = candidates.find((x) => x.output === readout.output);
  if (!c || !c.poolings.includes(readout.pooling)) return null;
  return { output: c.output, pooling: readout.pooling, reason, dim: c.dim };
}

/**
 * Parses `NAME` or `NAME:pooling` (the CLI's --output). A name that itself holds ':' is matched
 * whole first, so `a:b` is the output `a:b` when the model has one.
 */
export function parseReadoutFlag(text: string, candidates: readonly ReadoutCandidate[]): EmbeddingReadout | string {
  const whole = candidates.find((c) => c.output === text);
  const at = text.lastIndexOf(':');
  const [name, pooling] = whole || at < 0 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
  const c = candidates.find((x) => x.output === name);
  const choices = readoutOptions(candidates).map(formatReadoutFlag).join(', ');
  if (!c) return `the model has no output '${name}' that can be read as an embedding; choose one of: ${choices}.`;
  if (pooling === null) {
    if (c.poolings.length === 1) return { output: name, pooling: c.poolings[0]! };
    return `'${name}' ${formatDims(c.dims)} needs a pooling: ${c.poolings.map((p) => `${name}:${p}`).join(' or ')}.`;
  }
  if (!isEmbeddingPooling(pooling) || !c.poolings.includes(pooling)) {
    return `'${name}' ${formatDims(c.dims)} can be read with ${c.poolings.map((p) => `${name}:${p}`).join(' or ')}, not :${pooling}.`;
  }
  return { output: name, pooling };
}

/** Why a stored value is not a readout record (null when it is one), for files read back. */
export function readoutRecordProblem(where: string, value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${where} must be a JSON object`;
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!['output', 'pooling', 'reason', 'dim'].includes(key)) return `${where}.${key} is not a known field`;
  if (typeof r['output'] !== 'string' || r['output'] === '') return `${where}.output must be an output name`;
  if (!isEmbeddingPooling(r['pooling'])) return `${where}.pooling must be one of ${EMBEDDING_POOLINGS.join(', ')}, got ${JSON.stringify(r['pooling'])}`;
  if (r['reason'] !== undefined && typeof r['reason'] !== 'string') return `${where}.reason must be a string`;
  if (r['dim'] !== undefined && r['dim'] !== null && !(Number.isInteger(r['dim']) && (r['dim'] as number) > 0)) return `${where}.dim must be a positive integer`;
  return null;
}

/** A short, file-name-safe key of a readout (embedding caches are keyed by it). */
export function readoutKey(readout: EmbeddingReadout): string {
  return `${encodeURIComponent(readout.output)}~${readout.pooling}`;
}
