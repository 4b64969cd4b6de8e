// The DeDe decoder (docs/ARCHITECTURE.md §5.1) as a static-shape graph: patch branch (MAE encoder)
// over the visible patches, CLS output replaced by a projection of the frozen encoder's embedding,
// MAE decoder with mask tokens, per-patch pixel prediction. Also the training loss and the scoring
// errors.

import { gelu } from '../autograd/composites';
import { GraphBuilder, type Value } from '../onnx/builder';
import { fmtShape } from '../onnx/shape-rules';
import { gridSize, numPatches, patchDim, visibleCount, type DecoderConfig } from './config';
import { declareDecoderParams, type BlockParams, type DecoderParams, type DecoderWeights, type LinearParams, type NormParams, type PatchBranchParams } from './params';

/** Graph input names of the batch (parameters are named by their spec names). */
export const DECODER_INPUTS = { images: 'images', embedding: 'embedding', keep: 'keep' } as const;

export interface DecoderInputs {
  /** [B, C, H, W] pixels in the encoder's normalised space. */
  readonly images: Value;
  /** [B, embedDim] raw embedding E(x) of the full, unmasked image. */
  readonly embedding: Value;
  /** [B, Tk, T] one-hot visible-patch selection; null when Tk = 0. */
  readonly keep: Value | null;
}

export interface DecoderForward {
  /** [B, T, C·p²] predicted patches, channel-first patch vectors (c, p1, p2). */
  readonly pred: Value;
  /** [B, T, C·p²] patchified input images. */
  readonly target: Value;
  /** [B, T] 1 on masked patches, 0 on visible ones. */
  readonly masked: Value;
}

export interface ReconstructionErrors {
  /** [B, C, H, W] squared error per pixel (every patch, masked or not). */
  readonly pixelError: Value;
  /** [B, T] mean squared error per patch (every patch). */
  readonly patchError: Value;
  /** [B] DeDe score: sum of squared errors over masked pixels. */
  readonly score: Value;
}

export interface InputSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Names and shapes of the batch inputs for a graph with `keepCount` visible patches. */
export function decoderInputSpecs(cfg: DecoderConfig, batch: number, keepCount: number): InputSpec[] {
  const specs: InputSpec[] = [
    { name: DECODER_INPUTS.images, shape: [batch, cfg.channels, cfg.imageSize, cfg.imageSize] },
    { name: DECODER_INPUTS.embedding, shape: [batch, cfg.embedDim] },
  ];
  if (keepCount > 0) specs.push({ name: DECODER_INPUTS.keep, shape: [batch, keepCount, numPatches(cfg)] });
  return specs;
}

export function declareDecoderInputs(b: GraphBuilder, cfg: DecoderConfig, batch: number, keepCount: number): DecoderInputs {
  const [images, embedding, keep] = decoderInputSpecs(cfg, batch, keepCount).map((s) => b.input(s.name, s.shape));
  return { images: images as Value, embedding: embedding as Value, keep: keep ?? null };
}

/** Host-side batch data, matching decoderInputSpecs. */
export interface DecoderBatch {
  readonly images: Float32Array;
  readonly embedding: Float32Array;
  readonly keep: Float32Array | null;
}

export function decoderFeeds(batch: DecoderBatch): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = { [DECODER_INPUTS.images]: batch.images, [DECODER_INPUTS.embedding]: batch.embedding };
  if (batch.keep) feeds[DECODER_INPUTS.keep] = batch.keep;
  return feeds;
}

// ---- patch layout ---------------------------------------------------------------------------

/** [B, C, H, W] → [B, T, C·p²]: row-major patch order, channel-first patch vectors (c, p1, p2). */
export function patchify(b: GraphBuilder, images: Value, cfg: DecoderConfig): Value {
  const [B, g, p, C] = [images.shape[0] as number, gridSize(cfg), cfg.patchSize, cfg.channels];
  const x = b.reshape(images, [B, C, g, p, g, p]); // b c h p1 w p2
  return b.reshape(b.transpose(x, [0, 2, 4, 1, 3, 5]), [B, g * g, C * p * p]); // b (h w) (c p1 p2)
}

/** Inverse of patchify: [B, T, C·p²] → [B, C, H, W]. */
export function unpatchify(b: GraphBuilder, patches: Value, cfg: DecoderConfig): Value {
  const [B, g, p, C] = [patches.shape[0] as number, gridSize(cfg), cfg.patchSize, cfg.channels];
  const x = b.reshape(patches, [B, g, g, C, p, p]); // b h w c p1 p2
  return b.reshape(b.transpose(x, [0, 3, 1, 4, 2, 5]), [B, C, cfg.imageSize, cfg.imageSize]);
}

// ---- transformer pieces -----------------------------------------------------------------------

function linear(b: GraphBuilder, x: Value, p: LinearParams): Value {
  const y = b.matmul(x, p.w);
  return p.b ? b.add(y, p.b) : y;
}

function norm(b: GraphBuilder, x: Value, p: NormParams, eps: number): Value {
  return b.layerNorm(x, p.w, p.b, { epsilon: eps });
}

/**
 * Multi-head self-attention on [B, N, D]; the qkv weight [D, 3D] keeps timm's output layout
 * (3, heads, headDim). q, k and v come from three MatMuls with column slices of the weight, not
 * from slicing the [B, N, 3D] activation: the gradients are [D, D] weight slices (autograd joins
 * them into one [D, 3D] Concat) and no [B, N, 3D] activation is split or rebuilt. The 1/√headDim
 * query scale is folded into the query weight slice.
 */
function attention(b: GraphBuilder, x: Value, p: BlockParams, heads: number): Value {
  const [B, N, D] = x.shape as [number, number, number];
  const hd = D / heads;
  const part = (i: number, perm: number[], scale?: number): Value => {
    const w = b.slice(p.qkv.w, [i * D], [(i + 1) * D], [1]);
    const y = b.matmul(x, scale === undefined ? w : b.mul(w, b.scalar(scale)));
    return b.transpose(b.reshape(y, [B, N, heads, hd]), perm);
  };
  const q = part(0, [0, 2, 1, 3], hd ** -0.5);
  const kT = part(1, [0, 2, 3, 1]); // straight to [B, H, hd, N] for the score MatMul
  const v = part(2, [0, 2, 1, 3]);
  const att = b.softmax(b.matmul(q, kT), -1);
  const o = b.reshape(b.transpose(b.matmul(att, v), [0, 2, 1, 3]), [B, N, D]);
  return linear(b, o, p.proj);
}

/** Pre-norm transformer block. */
function block(b: GraphBuilder, x: Value, p: BlockParams, heads: number, eps: number): Value {
  const h = b.add(x, attention(b, norm(b, x, p.ln1, eps), p, heads));
  return b.add(h, linear(b, gelu(b, linear(b, norm(b, h, p.ln2, eps), p.fc1)), p.fc2));
}

// ---- the model --------------------------------------------------------------------------------

/** Patch branch over the visible patches; returns their outputs [B, Tk, encDim] (CLS dropped). */
function patchBranch(b: GraphBuilder, cfg: DecoderConfig, p: PatchBranchParams, patches: Value, keep: Value): Value {
  const [B, Tk] = keep.shape as [number, number];
  const x = b.add(linear(b, patches, p.patch), p.pos);
  const cls = b.expand(b.reshape(p.cls, [1, 1, cfg.encDim]), [B, 1, cfg.encDim]);
  let h = b.concat([cls, b.matmul(keep, x)], 1);
  for (const blk of p.blocks) h = block(b, h, blk, cfg.encHeads, cfg.lnEps);
  // The CLS output is computed (other tokens attend to CLS) but then replaced by the splice.
  return b.slice(norm(b, h, p.norm, cfg.lnEps), [1], [1 + Tk], [1]);
}

/** Decoder tokens [B, T, decDim] in patch order, plus the [B, T] masked indicator. */
function restoreOrder(b: GraphBuilder, cfg: DecoderConfig, B: number, visibleTokens: Value | null, keep: Value | null, maskToken: Value): { tokens: Value; masked: Value } {
  const T = numPatches(cfg);
  if (!visibleTokens || !keep) return { tokens: b.expand(maskToken, [B, T, cfg.decDim]), masked: b.expand(b.scalar(1), [B, T]) };
  const scattered = b.matmul(b.transpose(keep, [0, 2, 1]), visibleTokens); // zero rows at masked positions
  const masked = b.sub(b.scalar(1), b.reduceSum(keep, [1], false));
  const fill = b.mul(b.unsqueeze(masked, [2]), maskToken);
  return { tokens: b.add(scattered, fill), masked };
}

function checkInputs(cfg: DecoderConfig, params: DecoderParams, inputs: DecoderInputs): void {
  const B = inputs.images.shape[0] as number;
  const expect = (v: Value, shape: readonly number[], what: string): void => {
    if (fmtShape(v.shape) !== fmtShape(shape)) throw new Error(`decoder: ${what} ${v.name} has shape ${fmtShape(v.shape)}, expected ${fmtShape(shape)}`);
  };
  expect(inputs.images, [B, cfg.channels, cfg.imageSize, cfg.imageSize], 'images');
  expect(inputs.embedding, [B, cfg.embedDim], 'embedding (embedDim)');
  if (inputs.keep) {
    const Tk = inputs.keep.shape[1] as number;
    expect(inputs.keep, [B, Tk, numPatches(cfg)], 'keep [B, Tk, T]');
    if (Tk < 1) throw new Error('decoder: keep must select at least one patch; pass keep = null when Tk = 0');
    if (!params.enc) throw new Error('decoder: visible patches need the patch branch; declare params with patchBranch: true');
  }
}

/**
 * Emit the forward pass. With keep = null (Tk = 0, e.g. mask 0.99 on 64 patches) the patch branch
 * is skipped: its only surviving token would be CLS, whose output the splice replaces anyway.
 */
export function buildDecoderForward(b: GraphBuilder, cfg: DecoderConfig, params: DecoderParams, inputs: DecoderInputs): DecoderForward {
  checkInputs(cfg, params, inputs);
  const B = inputs.images.shape[0] as number;
  const target = patchify(b, inputs.images, cfg);
  const splice = b.reshape(linear(b, inputs.embedding, params.splice), [B, 1, cfg.encDim]);
  const visible = inputs.keep && params.enc ? patchBranch(b, cfg, params.enc, target, inputs.keep) : null;
  const enc = visible ? b.concat([splice, visible], 1) : splice;

  const d = params.dec;
  const y = linear(b, enc, d.embed); // [B, 1 + Tk, decDim], MAE's decoder_embed
  const vis = visible ? b.slice(y, [1], [y.shape[1] as number], [1]) : null;
  const { tokens, masked } = restoreOrder(b, cfg, B, vis, inputs.keep, d.mask);
  const T = numPatches(cfg);
  let h = b.add(b.concat([b.slice(y, [0], [1], [1]), tokens], 1), d.pos);
  for (const blk of d.blocks) h = block(b, h, blk, cfg.decHeads, cfg.lnEps);
  const pred = linear(b, b.slice(h, [1], [1 + T], [1]), d.pred); // no final norm; CLS slot dropped
  return { pred, target, masked };
}

// Loss and scoring errors share one (pred − target)² node per forward (keyed by the pred value).
const squaredErrors = new WeakMap<Value, Value>();

function squaredError(b: GraphBuilder, fwd: DecoderForward): Value {
  let sq = squaredErrors.get(fwd.pred);
  if (!sq) {
    const diff = b.sub(fwd.pred, fwd.target);
    sq = b.mul(diff, diff);
    squaredErrors.set(fwd.pred, sq);
  }
  return sq;
}

/** mean((pred − target)² · m) / maskRatio over all B·T·C·p² entries, m = 1 on masked patches. */
export function buildDecoderLoss(b: GraphBuilder, fwd: DecoderForward, maskRatio: number): Value {
  const weighted = b.mul(squaredError(b, fwd), b.unsqueeze(fwd.masked, [2]));
  return b.div(b.reduceMean(weighted, undefined, false), b.scalar(maskRatio));
}

export function buildReconstructionErrors(b: GraphBuilder, cfg: DecoderConfig, fwd: DecoderForward): ReconstructionErrors {
  const sq = squaredError(b, fwd);
  return {
    pixelError: unpatchify(b, sq, cfg),
    patchError: b.reduceMean(sq, [2], false),
    score: b.reduceSum(b.mul(sq, b.unsqueeze(fwd.masked, [2])), [1, 2], false),
  };
}

// ---- whole graphs ---------------------------------------------------------------------------

export type DecoderOutputName = 'pred' | 'loss' | 'pixelError' | 'patchError' | 'score' | 'masked';

export const ALL_DECODER_OUTPUTS: readonly DecoderOutputName[] = ['pred', 'loss', 'pixelError', 'patchError', 'score', 'masked'];

export interface DecoderGraphOptions {
  readonly batch: number;
  /** Fixes Tk = floor(T·(1−ratio)) and the loss normaliser. */
  readonly maskRatio: number;
  readonly weights: DecoderWeights;
  /** Declared graph outputs, in this order (default: all). */
  readonly outputs?: readonly DecoderOutputName[];
  readonly name?: string;
}

export interface DecoderGraph {
  readonly builder: GraphBuilder;
  readonly params: DecoderParams;
  readonly inputs: DecoderInputs;
  readonly keepCount: number;
  /** The declared outputs by name (graph output names equal these keys). */
  readonly outputs: Readonly<Partial<Record<DecoderOutputName, Value>>>;
  readonly loss: Value;
}

/**
 * A ready builder with params, inputs, forward, loss and errors. Trainers build the train step on
 * `builder` (gradients of `loss` w.r.t. `builder.params`); scorers call toModel({paramsAs:'initializer'}).
 */
export function buildDecoderGraph(cfg: DecoderConfig, opts: DecoderGraphOptions): DecoderGraph {
  if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new Error(`batch must be a positive integer, got ${opts.batch}`);
  const keepCount = visibleCount(cfg, opts.maskRatio);
  const b = new GraphBuilder(opts.name ?? 'dede_decoder');
  const params = declareDecoderParams(b, cfg, opts.weights, { patchBranch: keepCount > 0 });
  const inputs = declareDecoderInputs(b, cfg, opts.batch, keepCount);
  const fwd = buildDecoderForward(b, cfg, params, inputs);
  const loss = buildDecoderLoss(b, fwd, opts.maskRatio);
  const all: Record<DecoderOutputName, Value> = { ...fwd, ...buildReconstructionErrors(b, cfg, fwd), loss };
  const outputs: Partial<Record<DecoderOutputName, Value>> = {};
  for (const name of opts.outputs ?? ALL_DECODER_OUTPUTS) outputs[name] = b.output(all[name], name);
  return { builder: b, params, inputs, keepCount, outputs, loss };
}
