// Scoring (docs/ARCHITECTURE.md §5.3): a trained decoder run at mask ratio 0.99 as an inference graph
// (weights as initializers), and a Scorer that feeds it through the runtime seam. The graph gives
// the paper's score and the error maps; the robust per-image score (median or trimmed mean of the
// masked patches' errors) is computed here in TS, so the graph needs no Sort/TopK.

import { GraphBuilder, type Value } from '../onnx/builder';
import type { Model } from '../onnx/graph';
import { serializeModel } from '../onnx/serialize';
import type { OrtTensor } from '../runtime/ort-types';
import { leaseSession, readFloat32, type Runtime, type SessionLease } from '../runtime/session';
import { throwIfCancelled } from '../runtime/cancel';
import { yieldToEventLoop } from '../runtime/yield';
import { gridSize, numPatches, visibleCount, type DecoderConfig } from './config';
import { keepOneHot, sampleKeepIndices } from './mask';
import { buildDecoderForward, buildReconstructionErrors, declareDecoderInputs, DECODER_INPUTS, unpatchify } from './model';
import { declareDecoderParams, type DecoderWeights } from './params';
import { mulberry32, type Rng } from './rng';
import { aggregatePatchErrors, checkScoreKind, DEFAULT_AGGREGATE, type RobustAggregate, type ScoreKind } from './scores';

/** docs/ARCHITECTURE.md §5.3: scoring masks 99% of the patches (training uses 0.9, on purpose). */
export const SCORE_MASK_RATIO = 0.99;

/**
 * Graph outputs of scoring/exported decoder models:
 * - `dedeScore` [B]: Σ (x̂ − x)² over masked pixels (the paper's score);
 * - `patchError` [B, T]: mean squared error of every patch (visible ones too: see `masked`);
 * - `pixelError` [B, C, H, W]: squared error per pixel;
 * - `pred` [B, T, C·p²]: predicted patches, (c, p1, p2) vectors as the reference;
 * - `reconstruction` [B, C, H, W]: `pred` un-patchified;
 * - `masked` [B, T]: 1 on masked patches.
 */
export type ScorerOutputName = 'dedeScore' | 'patchError' | 'pixelError' | 'pred' | 'reconstruction' | 'masked';

export const SCORING_OUTPUTS: readonly ScorerOutputName[] = ['dedeScore', 'patchError', 'pixelError'];

export interface ScorerGraphOptions {
  readonly batch: number;
  /** Default SCORE_MASK_RATIO. */
  readonly maskRatio?: number;
  /** Declared outputs, in this order (default SCORING_OUTPUTS). */
  readonly outputs?: readonly ScorerOutputName[];
  /**
   * Keep the patch-branch weights as (unused) initializers even when no patch is visible, so that
   * the model holds the whole checkpoint (decoder files). Default false: the lean scoring graph.
   */
  readonly allWeights?: boolean;
  readonly name?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The scoring inference model; inputs `images`, `embedding` and, only when Tk > 0, `keep`. */
export function buildScorerModel(cfg: DecoderConfig, weights: DecoderWeights, opts: ScorerGraphOptions): Model {
  if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new Error(`batch must be a positive integer, got ${opts.batch}`);
  const keepCount = visibleCount(cfg, opts.maskRatio ?? SCORE_MASK_RATIO);
  const b = new GraphBuilder(opts.name ?? 'dede_scorer');
  const params = declareDecoderParams(b, cfg, weights, { patchBranch: keepCount > 0 || (opts.allWeights ?? false) });
  const fwd = buildDecoderForward(b, cfg, params, declareDecoderInputs(b, cfg, opts.batch, keepCount));
  const err = buildReconstructionErrors(b, cfg, fwd);
  const values: Record<ScorerOutputName, () => Value> = {
    dedeScore: () => err.score,
    patchError: () => err.patchError,
    pixelError: () => err.pixelError,
    pred: () => fwd.pred,
    reconstruction: () => unpatchify(b, fwd.pred, cfg),
    masked: () => fwd.masked,
  };
  for (const name of opts.outputs ?? SCORING_OUTPUTS) b.output(values[name](), name);
  return b.toModel({ paramsAs: 'initializer', ...(opts.metadata ? { metadata: opts.metadata } : {}) });
}

// ---- the Scorer ---------------------------------------------------------------------------------

export interface ScorerSettings {
  /** Images per graph run (the graph has static shapes). Default 16. */
  readonly batch?: number;
  /** Default SCORE_MASK_RATIO. */
  readonly maskRatio?: number;
  /** R: random masks averaged per image when patches stay visible (Tk > 0). Ignored (1) when Tk = 0. Default 8. */
  readonly rounds?: number;
  /** How `score` aggregates the masked patches' errors. Default median. */
  readonly aggregate?: RobustAggregate;
  /** Seeds the masks when scoreBatch is given no rng, so repeated calls agree. Default 0. */
  readonly seed?: number;
}

export interface ScoreRequest {
  /** Also return the per-pixel error map (C·H·W floats per image). */
  readonly pixelError?: boolean;
  /** Checked (after yielding to the event loop) before every graph run. */
  readonly signal?: AbortSignal;
  /**
   * One seed per image: each image's masks come from its own stream (mulberry32(seed)) instead of
   * the batch's, so its score does not depend on which images it was scored with or where (a
   * sharded scan scores each image as the unsharded one does). The mask distribution is the same.
   */
  readonly imageSeeds?: ArrayLike<number>;
  /** Also return the reconstruction (the content score compares it with the input, content-score.ts). */
  readonly reconstruction?: boolean;
}

export interface ImageScore {
  /** Robust score: the aggregate of the masked patches' errors, averaged over the R masks. */
  readonly score: number;
  /** The paper's score Σ (x̂ − x)² over masked pixels, averaged over the R masks. */
  readonly dedeScore: number;
  /** [T] mean over the rounds in which each patch was masked; NaN if it never was. */
  readonly patchErrors: Float32Array;
  /** [C, H, W] squared error, averaged like patchErrors (NaN in never-masked patches). Only when requested. */
  readonly pixelError?: Float32Array;
  /** [C, H, W] the decoder's prediction of every patch, averaged over the rounds. Only when requested. */
  readonly reconstruction?: Float32Array;
}

/** Per-image running sums over the R rounds. */
interface ImageAccumulator {
  score: number;
  dedeScore: number;
  readonly patchSum: Float64Array;
  readonly patchCount: Uint32Array;
  readonly pixelSum: Float64Array | null;
  readonly reconSum: Float64Array | null;
}

/** One graph run's host outputs for a padded batch. */
interface RoundOutputs {
  readonly dedeScore: Float32Array;
  readonly patchError: Float32Array;
  readonly pixelError: Float32Array | null;
  readonly reconstruction: Float32Array | null;
}

export class Scorer {
  readonly keepCount: number;
  readonly rounds: number;
  readonly aggregate: RobustAggregate;
  private released = false;

  private constructor(
    readonly cfg: DecoderConfig,
    readonly batch: number,
    readonly maskRatio: number,
    private readonly seed: number,
    private readonly runtime: Runtime,
    private readonly lease: SessionLease,
    settings: ScorerSettings,
  ) {
    this.keepCount = visibleCount(cfg, maskRatio);
    this.rounds = this.keepCount === 0 ? 1 : (settings.rounds ?? 8);
    this.aggregate = settings.aggregate ?? DEFAULT_AGGREGATE;
  }

  /**
   * `identity` names the decoder's weights (e.g. its file's SHA-256): with it, a runtime that keeps
   * sessions (the model worker) reuses the scoring graph's session across jobs (docs/ARCHITECTURE.md §3.3).
   */
  static async create(runtime: Runtime, cfg: DecoderConfig, weights: DecoderWeights, settings: ScorerSettings = {}, identity: string | null = null): Promise<Scorer> {
    const batch = settings.batch ?? 16;
    const maskRatio = settings.maskRatio ?? SCORE_MASK_RATIO;
    checkScorerSettings(settings);
    const lease = await leaseSession(runtime, 'scorer', identity === null ? null : `${identity}/b${batch}/m${maskRatio}`, () => ({
      model: serializeModel(buildScorerModel(cfg, weights, { batch, maskRatio, outputs: [...SCORING_OUTPUTS, 'reconstruction'] })),
    }));
    return new Scorer(cfg, batch, maskRatio, settings.seed ?? 0, runtime, lease, settings);
  }

  /** What `score` is, for calibration records. */
  get scoreKind(): ScoreKind {
    return this.aggregate;
  }

  /**
   * Scores n images: `images` [n, C, H, W] in the encoder's normalised space, `embeddings`
   * [n, embedDim]. Masks come from `rng` (default: a fresh stream from the `seed` setting), drawn
   * per batch of `batch` images and per round, so results are reproducible for the same inputs.
   */
  async scoreBatch(images: Float32Array, embeddings: Float32Array, rng?: Rng, request: ScoreRequest = {}): Promise<ImageScore[]> {
    if (this.released) throw new Error('Scorer: this scorer was disposed');
    const n = this.imageCount(images, embeddings);
    const draw = rng ?? mulberry32(this.seed);
    const own = request.imageSeeds ? Array.from(request.imageSeeds, (seed) => mulberry32(seed)) : null;
    if (own && own.length !== n) throw new Error(`Scorer: ${own.length} image seeds for ${n} images`);
    const results: ImageScore[] = [];
    for (let start = 0; start < n; start += this.batch) {
      const count = Math.min(this.batch, n - start);
      const acc = Array.from({ length: count }, () => this.newAccumulator(request.pixelError ?? false, request.reconstruction ?? false));
      for (let r = 0; r < this.rounds; r++) {
        const keepIdx = own ? this.ownKeepIndices(own, start, count) : sampleKeepIndices(this.batch, numPatches(this.cfg), this.keepCount, draw);
        const out = await this.runRound(images, embeddings, start, count, keepIdx, request);
        acc.forEach((a, i) => this.accumulate(a, out, i, keepIdx));
      }
      for (const a of acc) results.push(this.finish(a));
    }
    return results;
  }

  async dispose(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.lease.release();
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Keep indices [batch·Tk] with image start+i's drawn from its own stream; padding rows keep 0…Tk−1. */
  private ownKeepIndices(own: readonly Rng[], start: number, count: number): Int32Array {
    const out = new Int32Array(this.batch * this.keepCount);
    for (let i = 0; i < this.batch; i++) {
      const row = i < count ? sampleKeepIndices(1, numPatches(this.cfg), this.keepCount, own[start + i]!) : Int32Array.from({ length: this.keepCount }, (_, t) => t);
      out.set(row, i * this.keepCount);
    }
    return out;
  }

  private imageCount(images: Float32Array, embeddings: Float32Array): number {
    const { channels: C, imageSize: H, embedDim } = this.cfg;
    const n = embeddings.length / embedDim;
    if (!Number.isInteger(n)) throw new Error(`Scorer: ${embeddings.length} embedding values is not a multiple of embedDim ${embedDim}`);
    if (images.length !== n * C * H * H) throw new Error(`Scorer: ${n} embeddings need ${n * C * H * H} image values ([${n},${C},${H},${H}]), got ${images.length}`);
    return n;
  }

  /** One graph run over images [start, start+count), zero-padded to the static batch. */
  private async runRound(images: Float32Array, embeddings: Float32Array, start: number, count: number, keepIdx: Int32Array, request: ScoreRequest): Promise<RoundOutputs> {
    if (request.signal) {
      await yieldToEventLoop();
      throwIfCancelled(request.signal);
    }
    const { ort } = this.runtime;
    const { channels: C, imageSize: H, embedDim } = this.cfg;
    const B = this.batch;
    const T = numPatches(this.cfg);
    // Fresh, padded copies every run: ORT may detach the buffers it is given (proxy mode).
    const feeds: Record<string, OrtTensor> = {
      [DECODER_INPUTS.images]: new ort.Tensor('float32', paddedCopy(images, start, count, C * H * H, B), [B, C, H, H]),
      [DECODER_INPUTS.embedding]: new ort.Tensor('float32', paddedCopy(embeddings, start, count, embedDim, B), [B, embedDim]),
    };
    if (this.keepCount > 0) feeds[DECODER_INPUTS.keep] = new ort.Tensor('float32', keepOneHot(keepIdx, B, T, this.keepCount), [B, this.keepCount, T]);
    const fetches: ScorerOutputName[] = ['dedeScore', 'patchError'];
    if (request.pixelError) fetches.push('pixelError');
    if (request.reconstruction) fetches.push('reconstruction');
    const res = await this.lease.session.run(feeds, fetches);
    try {
      const read = async (name: ScorerOutputName): Promise<Float32Array> => {
        const t = res[name];
        if (!t) throw new Error(`Scorer: the session returned no ${name}`);
        return (await readFloat32(t)).slice();
      };
      return {
        dedeScore: await read('dedeScore'),
        patchError: await read('patchError'),
        pixelError: request.pixelError ? await read('pixelError') : null,
        reconstruction: request.reconstruction ? await read('reconstruction') : null,
      };
    } finally {
      for (const t of Object.values(res)) t.dispose();
    }
  }

  private newAccumulator(withPixels: boolean, withRecon: boolean): ImageAccumulator {
    const T = numPatches(this.cfg);
    const { channels: C, imageSize: H } = this.cfg;
    return { score: 0, dedeScore: 0, patchSum: new Float64Array(T), patchCount: new Uint32Array(T), pixelSum: withPixels ? new Float64Array(C * H * H) : null, reconSum: withRecon ? new Float64Array(C * H * H) : null };
  }

  /** Adds image `i`'s round: only its masked patches count (visible ones are copied, not predicted). */
  private accumulate(acc: ImageAccumulator, out: RoundOutputs, i: number, keepIdx: Int32Array): void {
    const T = numPatches(this.cfg);
    const masked = maskedFlags(T, keepIdx.subarray(i * this.keepCount, (i + 1) * this.keepCount));
    const errors = out.patchError.subarray(i * T, (i + 1) * T);
    const maskedErrors: number[] = [];
    for (let t = 0; t < T; t++) {
      if (!masked[t]) continue;
      const e = errors[t] as number;
      maskedErrors.push(e);
      acc.patchSum[t] = (acc.patchSum[t] as number) + e;
      acc.patchCount[t] = (acc.patchCount[t] as number) + 1;
    }
    acc.score += aggregatePatchErrors(maskedErrors, this.aggregate);
    acc.dedeScore += out.dedeScore[i] as number;
    if (acc.pixelSum && out.pixelError) {
      const size = acc.pixelSum.length;
      addMaskedPixels(acc.pixelSum, out.pixelError.subarray(i * size, (i + 1) * size), masked, this.cfg);
    }
    if (acc.reconSum && out.reconstruction) {
      const size = acc.reconSum.length;
      const rec = out.reconstruction.subarray(i * size, (i + 1) * size);
      for (let k = 0; k < size; k++) acc.reconSum[k] = (acc.reconSum[k] as number) + (rec[k] as number);
    }
  }

  private finish(acc: ImageAccumulator): ImageScore {
    const R = this.rounds;
    const patchErrors = Float32Array.from(acc.patchSum, (s, t) => (acc.patchCount[t] ? s / (acc.patchCount[t] as number) : NaN));
    const base = { score: acc.score / R, dedeScore: acc.dedeScore / R, patchErrors };
    return {
      ...base,
      ...(acc.pixelSum ? { pixelError: pixelMeans(acc.pixelSum, acc.patchCount, this.cfg) } : {}),
      ...(acc.reconSum ? { reconstruction: Float32Array.from(acc.reconSum, (v) => v / R) } : {}),
    };
  }
}

function checkScorerSettings(s: ScorerSettings): void {
  if (s.rounds !== undefined && (!Number.isInteger(s.rounds) || s.rounds < 1)) throw new Error(`Scorer: rounds must be a positive integer, got ${s.rounds}`);
  if (s.aggregate) checkScoreKind(s.aggregate);
}

/** Rows [start, start+count) of a row-major array, in a zeroed buffer of `batch` rows. */
function paddedCopy(src: Float32Array, start: number, count: number, rowSize: number, batch: number): Float32Array {
  const out = new Float32Array(batch * rowSize);
  out.set(src.subarray(start * rowSize, (start + count) * rowSize));
  return out;
}

function maskedFlags(T: number, keptIndices: Int32Array): Uint8Array {
  const masked = new Uint8Array(T).fill(1);
  for (const t of keptIndices) masked[t] = 0;
  return masked;
}

/** The patch (row-major) that holds pixel (y, x). */
function patchOf(y: number, x: number, cfg: DecoderConfig): number {
  return Math.floor(y / cfg.patchSize) * gridSize(cfg) + Math.floor(x / cfg.patchSize);
}

function addMaskedPixels(sum: Float64Array, pixels: Float32Array, masked: Uint8Array, cfg: DecoderConfig): void {
  const H = cfg.imageSize;
  for (let c = 0; c < cfg.channels; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < H; x++) {
        if (!masked[patchOf(y, x, cfg)]) continue;
        const k = (c * H + y) * H + x;
        sum[k] = (sum[k] as number) + (pixels[k] as number);
      }
}

function pixelMeans(sum: Float64Array, patchCount: Uint32Array, cfg: DecoderConfig): Float32Array {
  const H = cfg.imageSize;
  const out = new Float32Array(sum.length);
  for (let k = 0; k < sum.length; k++) {
    const yx = k % (H * H);
    const count = patchCount[patchOf(Math.floor(yx / H), yx % H, cfg)] as number;
    out[k] = count > 0 ? (sum[k] as number) / count : NaN;
  }
  return out;
}
