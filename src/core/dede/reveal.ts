// Target reveal: what a backdoor maps its triggered images to. The flagged images' embeddings are
// clustered; a backdoor's cluster sits on the attacker's target embedding, so decoding the cluster's
// mean embedding with no visible patch (the reconstruction then depends on the embedding only)
// draws the target. The trigger map is the cluster's mean per-pixel reconstruction error minus that
// of clean images: where the triggered images differ from what their embedding explains.

import { serializeModel } from '../onnx/serialize';
import type { OrtTensor } from '../runtime/ort-types';
import { readFloat32, type Runtime } from '../runtime/session';
import { rowCount, type ImageShape, type Rows } from './collapse';
import type { DecoderConfig } from './config';
import { DECODER_INPUTS } from './model';
import type { DecoderWeights } from './params';
import { buildScorerModel, type Scorer } from './scorer';

export interface ClusterSettings {
  /** Cosine to a cluster's centre at or above which an embedding joins it. Default 0.9. */
  readonly clusterCosine?: number;
  /** Clusters with fewer members are dropped (a target is shared by many images). Default 3. */
  readonly minClusterSize?: number;
}

export const DEFAULT_CLUSTER_COSINE = 0.9;
export const DEFAULT_MIN_CLUSTER_SIZE = 3;

export interface EmbeddingCluster {
  /** Folder indices of the members, ascending. */
  readonly members: Int32Array;
  /** [d] mean of the members' raw embeddings (what the decoder is fed). */
  readonly meanEmbedding: Float32Array;
  /** Mean cosine of the members to the cluster's direction (1 = all on one embedding). */
  readonly cohesion: number;
}

function unitRow(rows: Rows, i: number): Float64Array {
  const d = rows.dim;
  const v = Float64Array.from(rows.data.subarray(i * d, (i + 1) * d));
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return norm > 0 ? v.map((x) => x / norm) : v;
}

function cos(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let t = 0; t < a.length; t++) s += (a[t] as number) * (b[t] as number);
  return s;
}

function normalise(v: Float64Array): Float64Array {
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return norm > 0 ? v.map((x) => x / norm) : v;
}

/**
 * Deterministic leader clustering of the embeddings at `indices` (e.g. the flagged images):
 * visiting them by descending `priority` (e.g. collapse score: the densest first, so leaders sit in
 * the middle of a cluster; default index order), each joins the closest leader within
 * clusterCosine or becomes a leader. Then one refinement: every member is reassigned to the closest
 * cluster direction (the normalised mean of its members' unit embeddings) within clusterCosine.
 * Clusters smaller than minClusterSize are dropped; the rest come largest first.
 */
export function clusterEmbeddings(embeddings: Rows, indices: ArrayLike<number>, settings: ClusterSettings = {}, priority?: ArrayLike<number>): EmbeddingCluster[] {
  const n = rowCount(embeddings, 'embeddings');
  const threshold = settings.clusterCosine ?? DEFAULT_CLUSTER_COSINE;
  const minSize = settings.minClusterSize ?? DEFAULT_MIN_CLUSTER_SIZE;
  if (!(threshold > -1 && threshold <= 1)) throw new Error(`cluster: clusterCosine must be in (-1, 1], got ${threshold}`);
  if (!Number.isInteger(minSize) || minSize < 1) throw new Error(`cluster: minClusterSize must be a positive integer, got ${minSize}`);
  if (priority && priority.length !== n) throw new Error(`cluster: ${priority.length} priorities for ${n} embeddings`);
  const idx = Array.from(indices, (i) => {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`cluster: index ${i} out of range [0, ${n})`);
    return i;
  });
  const order = [...new Set(idx)].sort((a, b) => (priority ? (priority[b] as number) - (priority[a] as number) : 0) || a - b);
  const units = new Map(order.map((i) => [i, unitRow(embeddings, i)]));
  const unit = (i: number): Float64Array => units.get(i) as Float64Array;

  const closest = (v: Float64Array, centres: readonly Float64Array[]): number => {
    let best = -1;
    let bestCos = threshold;
    centres.forEach((c, j) => {
      const s = cos(v, c);
      if (s >= bestCos && (best < 0 || s > bestCos)) [best, bestCos] = [j, s];
    });
    return best;
  };
  const leaders: Float64Array[] = [];
  const groups: number[][] = [];
  for (const i of order) {
    const j = closest(unit(i), leaders);
    if (j >= 0) groups[j]?.push(i);
    else {
      leaders.push(unit(i));
      groups.push([i]);
    }
  }
  // Refinement against the cluster directions (leaders can sit off-centre).
  const centres = groups.map((g) => normalise(g.reduce((acc, i) => acc.map((x, t) => x + (unit(i)[t] as number)), new Float64Array(embeddings.dim))));
  const refined: number[][] = centres.map(() => []);
  for (const i of order) {
    const j = closest(unit(i), centres);
    if (j >= 0) refined[j]?.push(i);
  }
  const d = embeddings.dim;
  return refined
    .map((g, j) => ({ g, centre: centres[j] as Float64Array }))
    .filter(({ g }) => g.length >= minSize)
    .map(({ g, centre }) => {
      const members = Int32Array.from(g).sort();
      const mean = new Float64Array(d);
      for (const i of members) for (let t = 0; t < d; t++) mean[t] = (mean[t] as number) + (embeddings.data[i * d + t] as number) / members.length;
      const cohesion = g.reduce((a, i) => a + cos(unit(i), centre), 0) / g.length;
      return { members, meanEmbedding: Float32Array.from(mean), cohesion };
    })
    .sort((a, b) => b.members.length - a.members.length || (a.members[0] as number) - (b.members[0] as number));
}

// ---- decoding embeddings ------------------------------------------------------------------------

/**
 * Decodes embeddings with no visible patch (mask ratio 1: the reconstruction depends on the
 * embedding only): [c, embedDim] → [c, C, H, W] in the encoder's normalised pixel space.
 */
export async function decodeEmbeddings(runtime: Runtime, cfg: DecoderConfig, weights: DecoderWeights, embeddings: Float32Array): Promise<Float32Array> {
  const c = embeddings.length / cfg.embedDim;
  if (!Number.isInteger(c) || c < 1) throw new Error(`decode: ${embeddings.length} values is not a positive multiple of embedDim ${cfg.embedDim}`);
  const model = buildScorerModel(cfg, weights, { batch: c, maskRatio: 1, outputs: ['reconstruction'], name: 'dede_target_decoder' });
  const session = await runtime.createSession(serializeModel(model));
  try {
    const { ort } = runtime;
    const size = cfg.channels * cfg.imageSize ** 2;
    const feeds: Record<string, OrtTensor> = {};
    for (const input of model.graph.inputs) {
      // The images only enter the (unrequested) error outputs: zeros do.
      if (input.name === DECODER_INPUTS.images) feeds[input.name] = new ort.Tensor('float32', new Float32Array(c * size), [c, cfg.channels, cfg.imageSize, cfg.imageSize]);
      else if (input.name === DECODER_INPUTS.embedding) feeds[input.name] = new ort.Tensor('float32', embeddings.slice(), [c, cfg.embedDim]);
      else throw new Error(`decode: unexpected model input ${input.name}`);
    }
    const out = await session.run(feeds, ['reconstruction']);
    try {
      const t = out.reconstruction;
      if (!t) throw new Error('decode: the session returned no reconstruction');
      return (await readFloat32(t)).slice();
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  } finally {
    await session.release();
  }
}

// ---- contrast -----------------------------------------------------------------------------------
// With no visible patch the decoder outputs its best guess given the embedding: a conditional mean,
// shrunk toward the average image, so a decoded target looks washed out and resembles a dull photo
// more than the picture the embedding stands for. A per-pixel affine map fitted on clean images
// undoes the shrinkage: it sends the clean images' decodes to the clean images' own per-pixel mean
// and spread, y' = μx + (σx / σŷ)·(ŷ − μŷ). It uses clean images only, never the suspect set.

export interface ContrastMap {
  /** [C, H, W] per-pixel mean and standard deviation of the clean images. */
  readonly imageMean: Float32Array;
  readonly imageStd: Float32Array;
  /** [C, H, W] the same of their embedding-only decodes. */
  readonly decodedMean: Float32Array;
  readonly decodedStd: Float32Array;
}

/** A pixel's gain is capped: where the decodes barely vary, their spread says nothing. */
export const MAX_CONTRAST_GAIN = 8;

function pixelMoments(rows: Float32Array, size: number): { mean: Float32Array; std: Float32Array } {
  const n = rows.length / size;
  const mean = new Float64Array(size);
  const sq = new Float64Array(size);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < size; k++) {
      const v = rows[i * size + k] as number;
      mean[k] = (mean[k] as number) + v / n;
      sq[k] = (sq[k] as number) + (v * v) / n;
    }
  return { mean: Float32Array.from(mean), std: Float32Array.from(mean, (m, k) => Math.sqrt(Math.max(0, (sq[k] as number) - m * m))) };
}

/** Fits the map on n clean images [n, C, H, W] and their decodes (decodeEmbeddings of their embeddings). */
export function fitContrastMap(cleanImages: Float32Array, cleanDecoded: Float32Array, size: number): ContrastMap {
  const n = cleanImages.length / size;
  if (!Number.isInteger(n) || n < 2 || cleanDecoded.length !== cleanImages.length) throw new Error(`contrast map: needs at least 2 clean images and one decode each, got ${cleanImages.length} and ${cleanDecoded.length} values of images of ${size}`);
  const x = pixelMoments(cleanImages, size);
  const y = pixelMoments(cleanDecoded, size);
  return { imageMean: x.mean, imageStd: x.std, decodedMean: y.mean, decodedStd: y.std };
}

/** Applies the map to decoded images [c, C, H, W]. */
export function applyContrastMap(decoded: Float32Array, map: ContrastMap): Float32Array {
  const size = map.imageMean.length;
  if (decoded.length % size !== 0) throw new Error(`contrast map: ${decoded.length} values is not a whole number of ${size}-value images`);
  const out = new Float32Array(decoded.length);
  for (let k = 0; k < size; k++) {
    const sx = map.imageStd[k] as number;
    const sy = map.decodedStd[k] as number;
    const gain = sy > 0 ? Math.min(MAX_CONTRAST_GAIN, sx / sy) : 0;
    for (let i = k; i < decoded.length; i += size) out[i] = (map.imageMean[k] as number) + gain * ((decoded[i] as number) - (map.decodedMean[k] as number));
  }
  return out;
}

// ---- error maps ---------------------------------------------------------------------------------

/** Accumulates a per-position mean of equally sized maps; NaN entries (never-masked) are skipped. */
export class MeanMap {
  private readonly sum: Float64Array;
  private readonly count: Uint32Array;

  constructor(readonly size: number) {
    this.sum = new Float64Array(size);
    this.count = new Uint32Array(size);
  }

  add(map: ArrayLike<number>): void {
    if (map.length !== this.size) throw new Error(`mean map: got ${map.length} values, expected ${this.size}`);
    for (let k = 0; k < this.size; k++) {
      const v = map[k] as number;
      if (Number.isNaN(v)) continue;
      this.sum[k] = (this.sum[k] as number) + v;
      this.count[k] = (this.count[k] as number) + 1;
    }
  }

  /** The means (NaN where no map had a value). */
  mean(): Float32Array {
    return Float32Array.from(this.sum, (s, k) => (this.count[k] ? s / (this.count[k] as number) : NaN));
  }
}

/**
 * Mean per-pixel squared reconstruction error [C, H, W] of n images through the scorer, `chunk`
 * images at a time (bounded memory). `images` [n, C, H, W] normalised, `embeddings` [n, d].
 */
export async function meanPixelError(scorer: Scorer, images: Float32Array, embeddings: Float32Array, opts: { readonly chunk?: number; readonly signal?: AbortSignal } = {}): Promise<Float32Array> {
  const { channels: C, imageSize: H, embedDim } = scorer.cfg;
  const size = C * H * H;
  const n = embeddings.length / embedDim;
  if (!Number.isInteger(n) || n < 1 || images.length !== n * size) throw new Error(`mean pixel error: ${images.length} image values and ${embeddings.length} embedding values do not describe the same images`);
  const chunk = opts.chunk ?? 256;
  const acc = new MeanMap(size);
  for (let s = 0; s < n; s += chunk) {
    const e = Math.min(n, s + chunk);
    const res = await scorer.scoreBatch(images.subarray(s * size, e * size), embeddings.subarray(s * embedDim, e * embedDim), undefined, { pixelError: true, ...(opts.signal ? { signal: opts.signal } : {}) });
    for (const r of res) if (r.pixelError) acc.add(r.pixelError);
  }
  return acc.mean();
}

export interface TriggerMap {
  readonly height: number;
  readonly width: number;
  /** [H, W] channel mean of (cluster mean error − clean mean error); positive = worse than clean. */
  readonly map: Float32Array;
  /** The largest entry (first in row-major order on ties). */
  readonly peak: { readonly y: number; readonly x: number; readonly value: number };
}

/** Trigger map from two mean error maps [C, H, W] (cluster and clean). */
export function triggerMap(clusterError: ArrayLike<number>, cleanError: ArrayLike<number>, shape: ImageShape): TriggerMap {
  const { channels: C, height: H, width: W } = shape;
  if (clusterError.length !== C * H * W || cleanError.length !== C * H * W) throw new Error(`trigger map: maps must have ${C}×${H}×${W} values, got ${clusterError.length} and ${cleanError.length}`);
  const map = new Float32Array(H * W);
  let peak = { y: 0, x: 0, value: -Infinity };
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      let sum = 0;
      for (let c = 0; c < C; c++) {
        const k = (c * H + y) * W + x;
        sum += (clusterError[k] as number) - (cleanError[k] as number);
      }
      const v = sum / C;
      map[y * W + x] = v;
      if (v > peak.value) peak = { y, x, value: v };
    }
  return { height: H, width: W, map, peak };
}

// ---- all together -------------------------------------------------------------------------------

export interface RevealContext {
  readonly runtime: Runtime;
  readonly cfg: DecoderConfig;
  readonly weights: DecoderWeights;
  /** Needed for trigger maps (pixel errors). */
  readonly scorer?: Scorer;
}

export interface RevealInput {
  /** [n, d] the folder's embeddings. */
  readonly embeddings: Rows;
  /** Folder indices to cluster (the flagged images). */
  readonly flagged: ArrayLike<number>;
  /** Visiting order for the clustering, descending (e.g. collapse scores [n]). */
  readonly priority?: ArrayLike<number>;
  /** [n, C, H, W] the folder's normalised images, for trigger maps. */
  readonly images?: Float32Array;
  /** [C, H, W] mean pixel error of clean images (meanPixelError), for trigger maps. */
  readonly cleanPixelError?: Float32Array;
  /** Restores decoded targets to the contrast of clean photos (fitContrastMap). */
  readonly contrast?: ContrastMap;
  readonly signal?: AbortSignal;
}

export interface RevealedTarget extends EmbeddingCluster {
  /** [C, H, W] the decoded mean embedding, in the encoder's normalised pixel space, contrast restored when a map was given. */
  readonly target: Float32Array;
  /** Whether `target` went through a contrast map. */
  readonly contrastRestored: boolean;
  /** Null unless a scorer, the images and the clean mean error were given. */
  readonly triggerMap: TriggerMap | null;
}

/** Clusters the flagged images, decodes each cluster's mean embedding and, when it can, maps the trigger. */
export async function revealTargets(ctx: RevealContext, input: RevealInput, settings: ClusterSettings = {}): Promise<RevealedTarget[]> {
  const { cfg } = ctx;
  if (input.embeddings.dim !== cfg.embedDim) throw new Error(`reveal: embedding dim ${input.embeddings.dim}, decoder expects ${cfg.embedDim}`);
  const clusters = clusterEmbeddings(input.embeddings, input.flagged, settings, input.priority);
  if (clusters.length === 0) return [];
  const d = cfg.embedDim;
  const means = new Float32Array(clusters.length * d);
  clusters.forEach((c, j) => means.set(c.meanEmbedding, j * d));
  const raw = await decodeEmbeddings(ctx.runtime, cfg, ctx.weights, means);
  const decoded = input.contrast ? applyContrastMap(raw, input.contrast) : raw;
  const size = cfg.channels * cfg.imageSize ** 2;
  const shape = { channels: cfg.channels, height: cfg.imageSize, width: cfg.imageSize };
  const mapping = ctx.scorer && input.images && input.cleanPixelError ? { scorer: ctx.scorer, images: input.images, clean: input.cleanPixelError } : null;
  const out: RevealedTarget[] = [];
  for (const [j, c] of clusters.entries()) {
    let map: TriggerMap | null = null;
    if (mapping) {
      const imgs = gatherRows(mapping.images, size, c.members);
      const embs = gatherRows(input.embeddings.data, d, c.members);
      map = triggerMap(await meanPixelError(mapping.scorer, imgs, embs, input.signal ? { signal: input.signal } : {}), mapping.clean, shape);
    }
    out.push({ ...c, target: decoded.slice(j * size, (j + 1) * size), contrastRestored: input.contrast !== undefined, triggerMap: map });
  }
  return out;
}

/** Rows `indices` of a row-major array, back to back. */
export function gatherRows(data: Float32Array, rowSize: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * rowSize);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r] as number;
    out.set(data.subarray(i * rowSize, (i + 1) * rowSize), r * rowSize);
  }
  return out;
}
