// Set-level backdoor signal (docs/ARCHITECTURE.md §5.5, measured in §8.2): a backdoored encoder
// maps every triggered image onto nearly one embedding, so in a suspect folder the triggered images
// sit unnaturally close together. The collapse score of an image is the mean cosine similarity to its
// k nearest OTHER images of the folder. Pure TS, DOM-free.
//
// Memory: rows are normalised once (a copy, n·d floats) and the similarities are visited block by
// block (query block × candidate block, both cache-sized) while each row keeps a running top-k
// (n·k sims + n·k indices). No n×n (nor block×n) buffer ever exists; the symmetric within-folder
// pass visits each pair once and offers it to both rows.
//
// Near-duplicates (the same photo re-saved, resized or recompressed) would be each other's nearest
// neighbour at cosine ≈ 1, so a pair whose pixel fingerprints (tiny grayscale thumbnails, see
// pixelFingerprint) have cosine ≥ a threshold is not a neighbour. The check runs only for a
// candidate that would enter a row's top-k, so it costs O(f) per admission, not per pair.
// Threshold 0.95, checked on 1,500 real CIFAR-10 photos (8×8 fingerprints): JPEG-recompressed and
// resized copies ≥ 0.963 (1st percentile 0.980); 1 of 1.1 M pairs of different photos ≥ 0.95; with a
// white 10×10 trigger stamped on all of them, 40 of 1.1 M pairs (too few to hide a collapse).
//
// Calibration (why the clean reference is scored AGAINST THE FOLDER): the kNN similarity of a clean
// image grows with the number of candidates, so clean scores computed within a reference set of
// size M do not describe a folder of size n ≠ M (a folder of 2,000 would be over-flagged, one of 50
// under-flagged: see the tests). Instead each clean reference image gets its k nearest among the
// folder's n images, exactly as a folder image gets its k nearest among the other n − 1. Given the
// folder, a clean folder image and a clean reference image then face the same candidate pool, so
// the folder image's score is exchangeable with the reference scores up to one extra candidate for
// the reference images, which only makes their scores larger: the conformal p-value stays valid
// (conservative by that one candidate) for any folder size n and any reference size M. Whatever
// else shapes the pool (duplicates salted in the folder, the poisoned images themselves) shapes the
// reference scores the same way. Reference images that also sit in the folder are their own
// nearest neighbour unless fingerprints exclude them: that only inflates the reference (more
// conservative). Limitation: a folder that is clean but much more homogeneous than the reference
// (one class only) is flagged as collapsed; the reference must look like the folder's clean part.
// Cost: O((n² / 2 + M·n)·d) multiply-adds.

import { areaWeights } from '../images/area-resize';
import { pValues } from './calibrate';

/** A row-major matrix [rows, dim] of float32 values. */
export interface Rows {
  readonly data: Float32Array;
  readonly dim: number;
}

/** Embeddings of a set of images, optionally with their pixel fingerprints (same row order). */
export interface EmbeddingSet {
  /** [n, d] raw encoder embeddings (normalised here, the caller's array is not changed). */
  readonly embeddings: Rows;
  /** [n, f] rows from pixelFingerprint; when given, near-duplicate pairs are not neighbours. */
  readonly fingerprints?: Rows;
}

export interface CollapseSettings {
  /** Neighbours averaged per image. Default 5 (what we measured with). */
  readonly k?: number;
  /** Rows per block of the blocked similarity pass. Default 256. */
  readonly blockSize?: number;
  /** Fingerprint cosine at or above which two images are near-duplicates. Default 0.95. */
  readonly nearDuplicateCosine?: number;
}

export const DEFAULT_COLLAPSE_K = 5;
export const DEFAULT_COLLAPSE_BLOCK = 256;
export const DEFAULT_NEAR_DUPLICATE_COSINE = 0.95;
/** Side of the square grayscale thumbnail behind a fingerprint. */
export const DEFAULT_FINGERPRINT_SIZE = 8;

/** Similarity given to an image that has no admissible neighbour (a folder of one): no evidence. */
const NO_NEIGHBOUR_SCORE = -1;

export function rowCount(rows: Rows, what = 'rows'): number {
  if (!Number.isInteger(rows.dim) || rows.dim < 1) throw new Error(`${what}: dim must be a positive integer, got ${rows.dim}`);
  const n = rows.data.length / rows.dim;
  if (!Number.isInteger(n)) throw new Error(`${what}: ${rows.data.length} values is not a multiple of dim ${rows.dim}`);
  return n;
}

// ---- pixel fingerprints -------------------------------------------------------------------------

export interface FingerprintOptions {
  /** Thumbnail side (default DEFAULT_FINGERPRINT_SIZE). */
  readonly size?: number;
  /** 'chw' (the decoder's normalised images, default) or 'hwc' (decoded RGB/RGBA bytes). */
  readonly layout?: 'chw' | 'hwc';
}

/** Pixels as the decoder sees them (float, normalised) or as decoded (bytes). */
export type PixelArray = Float32Array | Uint8Array | Uint8ClampedArray;

export interface ImageShape {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/**
 * A near-duplicate fingerprint: the channel mean (grayscale) area-averaged to size × size with exact
 * fractional overlaps (so a resized copy lands on the same grid), mean removed and L2-normalised
 * (so brightness/contrast shifts and per-channel affine normalisations cancel). Cosine of two
 * fingerprints ≈ 1 for re-saved, resized or recompressed copies of one photo. A flat image gives
 * the zero vector (cosine 0 with everything: never a duplicate).
 */
export function pixelFingerprint(pixels: ArrayLike<number>, shape: ImageShape, opts: FingerprintOptions = {}): Float32Array {
  const { channels: C, height: H, width: W } = shape;
  const s = opts.size ?? DEFAULT_FINGERPRINT_SIZE;
  if (![C, H, W, s].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`fingerprint: bad shape ${C}×${H}×${W} or size ${s}`);
  if (pixels.length !== C * H * W) throw new Error(`fingerprint: ${pixels.length} values for a ${C}×${H}×${W} image`);
  const hwc = opts.layout === 'hwc';
  const gray = new Float64Array(H * W);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      let sum = 0;
      for (let c = 0; c < C; c++) sum += pixels[hwc ? (y * W + x) * C + c : (c * H + y) * W + x] as number;
      gray[y * W + x] = sum / C;
    }
  const wy = areaWeights(H, s);
  const wx = areaWeights(W, s);
  const out = new Float64Array(s * s);
  for (let u = 0; u < s; u++)
    for (const [y, a] of wy[u] as [number, number][])
      for (let v = 0; v < s; v++) for (const [x, b] of wx[v] as [number, number][]) out[u * s + v] = (out[u * s + v] as number) + a * b * (gray[y * W + x] as number);
  const mean = out.reduce((acc, v) => acc + v, 0) / out.length;
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = (out[i] as number) - mean;
    norm += (out[i] as number) ** 2;
  }
  norm = Math.sqrt(norm);
  // Relative guard: a flat image's residue is float noise, not a pattern.
  const scale = Math.sqrt(out.length) * Math.max(1e-12, Math.abs(mean));
  return Float32Array.from(out, (v) => (norm > 1e-9 * scale ? v / norm : 0));
}

/** Fingerprints of n images stored back to back ([n, C, H, W] or [n, H, W, C]). */
export function pixelFingerprints(images: PixelArray, shape: ImageShape, opts: FingerprintOptions = {}): Rows {
  const size = shape.channels * shape.height * shape.width;
  const n = images.length / size;
  if (!Number.isInteger(n)) throw new Error(`fingerprints: ${images.length} values is not a whole number of ${size}-value images`);
  const s = opts.size ?? DEFAULT_FINGERPRINT_SIZE;
  const data = new Float32Array(n * s * s);
  for (let i = 0; i < n; i++) data.set(pixelFingerprint(images.subarray(i * size, (i + 1) * size), shape, opts), i * s * s);
  return { data, dim: s * s };
}

// ---- blocked k-nearest similarities -------------------------------------------------------------

/** Rows scaled to unit length (zero rows stay zero), zero-padded to `padTo` rows. */
function normalised(rows: Rows, padTo = 1): Float32Array {
  const n = rowCount(rows);
  const d = rows.dim;
  const out = new Float32Array(Math.ceil(n / padTo) * padTo * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let t = i * d; t < (i + 1) * d; t++) ss += (rows.data[t] as number) ** 2;
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let t = i * d; t < (i + 1) * d; t++) out[t] = (rows.data[t] as number) * inv;
  }
  return out;
}

function dot(a: Float32Array, ia: number, b: Float32Array, ib: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += (a[ia + t] as number) * (b[ib + t] as number);
  return s;
}

/** Rows per register tile: 4 × 4 dot products share their loads (≈ 2× a plain dot loop in V8). */
const TILE = 4;

/** out[4a + b] = row (i + a) of `a` · row (j + b) of `b`, for a, b < 4 (rows padded to TILE). */
function tileDots(x: Float32Array, i: number, y: Float32Array, j: number, d: number, out: Float64Array): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  const a0 = i * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
  const b0 = j * d, b1 = b0 + d, b2 = b1 + d, b3 = b2 + d;
  for (let t = 0; t < d; t++) {
    const x0 = x[a0 + t] as number, x1 = x[a1 + t] as number, x2 = x[a2 + t] as number, x3 = x[a3 + t] as number;
    const y0 = y[b0 + t] as number, y1 = y[b1 + t] as number, y2 = y[b2 + t] as number, y3 = y[b3 + t] as number;
    c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
    c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
    c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
    c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
  }
  out[0] = c00; out[1] = c01; out[2] = c02; out[3] = c03;
  out[4] = c10; out[5] = c11; out[6] = c12; out[7] = c13;
  out[8] = c20; out[9] = c21; out[10] = c22; out[11] = c23;
  out[12] = c30; out[13] = c31; out[14] = c32; out[15] = c33;
}

/** Per row, the k largest similarities seen so far, descending, with their candidate indices. */
class RunningTopK {
  readonly sims: Float64Array;
  readonly idx: Int32Array;

  constructor(
    readonly rows: number,
    readonly k: number,
  ) {
    this.sims = new Float64Array(rows * k).fill(-Infinity);
    this.idx = new Int32Array(rows * k).fill(-1);
  }

  /** The similarity a candidate must beat to enter row i's list. */
  floor(i: number): number {
    return this.sims[i * this.k + this.k - 1] as number;
  }

  insert(i: number, j: number, s: number): void {
    const base = i * this.k;
    let p = this.k - 1;
    while (p > 0 && (this.sims[base + p - 1] as number) < s) {
      this.sims[base + p] = this.sims[base + p - 1] as number;
      this.idx[base + p] = this.idx[base + p - 1] as number;
      p--;
    }
    this.sims[base + p] = s;
    this.idx[base + p] = j;
  }

  /** Mean of row i's `kk` ≤ k largest admitted similarities (NO_NEIGHBOUR_SCORE when none). */
  mean(i: number, kk = this.k): number {
    let sum = 0;
    let count = 0;
    for (let p = i * this.k; p < i * this.k + kk && (this.idx[p] as number) >= 0; p++, count++) sum += this.sims[p] as number;
    return count > 0 ? sum / count : NO_NEIGHBOUR_SCORE;
  }
}

interface Side {
  readonly n: number;
  /** Normalised embeddings, zero-padded to a multiple of TILE rows. */
  readonly unit: Float32Array;
  /** Normalised fingerprints (rows of dim fDim) or null. */
  readonly prints: Float32Array | null;
}

interface Pass {
  readonly d: number;
  readonly fDim: number;
  readonly dupCos: number;
  /** Rows per cache block, a multiple of TILE. */
  readonly block: number;
}

function side(set: EmbeddingSet, dim: number, fDim: number | null, what: string): Side {
  const n = rowCount(set.embeddings, `${what} embeddings`);
  if (set.embeddings.dim !== dim) throw new Error(`${what}: embedding dim ${set.embeddings.dim}, expected ${dim}`);
  let prints: Float32Array | null = null;
  if (set.fingerprints && fDim !== null) {
    if (set.fingerprints.dim !== fDim) throw new Error(`${what}: fingerprint dim ${set.fingerprints.dim}, expected ${fDim}`);
    if (rowCount(set.fingerprints, `${what} fingerprints`) !== n) throw new Error(`${what}: ${rowCount(set.fingerprints)} fingerprints for ${n} embeddings`);
    prints = normalised(set.fingerprints);
  }
  return { n, unit: normalised(set.embeddings, TILE), prints };
}

/** Offers candidate j (of `cand`) to query row i (of `query`) with similarity s. */
function offer(top: RunningTopK, i: number, query: Side, j: number, cand: Side, s: number, pass: Pass): void {
  if (!(s > top.floor(i))) return;
  if (query.prints && cand.prints && dot(query.prints, i * pass.fDim, cand.prints, j * pass.fDim, pass.fDim) >= pass.dupCos) return;
  top.insert(i, j, s);
}

/**
 * Runs the blocked pass: every (query row, candidate row) similarity is computed in 4 × 4 tiles
 * inside cache blocks and offered to the running top-k. `within`: query and candidates are the same
 * rows; each unordered pair is computed once and offered both ways, self-pairs skipped.
 */
function scan(query: Side, cand: Side, within: boolean, k: number, pass: Pass): RunningTopK {
  const top = new RunningTopK(query.n, k);
  const { d, block } = pass;
  const sims = new Float64Array(TILE * TILE);
  for (let i0 = 0; i0 < query.n; i0 += block) {
    const i1 = Math.min(query.n, i0 + block);
    for (let j0 = within ? i0 : 0; j0 < cand.n; j0 += block) {
      const j1 = Math.min(cand.n, j0 + block);
      for (let i = i0; i < i1; i += TILE) {
        // On a diagonal block, tiles left of the diagonal hold only pairs already seen.
        for (let j = within && j0 === i0 ? i : j0; j < j1; j += TILE) {
          tileDots(query.unit, i, cand.unit, j, d, sims);
          for (let a = 0; a < TILE && i + a < i1; a++)
            for (let b = 0; b < TILE && j + b < j1; b++) {
              const ii = i + a;
              const jj = j + b;
              const s = sims[a * TILE + b] as number;
              if (!within) offer(top, ii, query, jj, cand, s, pass);
              else if (jj > ii) {
                offer(top, ii, query, jj, cand, s, pass);
                offer(top, jj, cand, ii, query, s, pass);
              }
            }
        }
      }
    }
  }
  return top;
}

function passOf(settings: CollapseSettings, d: number, fDim: number): { k: number; pass: Pass } {
  const k = settings.k ?? DEFAULT_COLLAPSE_K;
  const requested = settings.blockSize ?? DEFAULT_COLLAPSE_BLOCK;
  const dupCos = settings.nearDuplicateCosine ?? DEFAULT_NEAR_DUPLICATE_COSINE;
  if (!Number.isInteger(k) || k < 1) throw new Error(`collapse: k must be a positive integer, got ${k}`);
  if (!Number.isInteger(requested) || requested < 1) throw new Error(`collapse: blockSize must be a positive integer, got ${requested}`);
  const block = Math.ceil(requested / TILE) * TILE;
  if (!(dupCos > -1 && dupCos <= 1)) throw new Error(`collapse: nearDuplicateCosine must be in (-1, 1], got ${dupCos}`);
  return { k, pass: { d, fDim, dupCos, block } };
}

function means(top: RunningTopK, kk = top.k): Float64Array {
  return Float64Array.from({ length: top.rows }, (_, i) => top.mean(i, kk));
}

/** Fingerprint dim shared by the sets, or null when any set lacks fingerprints (no exclusion). */
function sharedFingerprintDim(sets: readonly EmbeddingSet[]): number | null {
  if (!sets.every((s) => s.fingerprints)) return null;
  const dims = new Set(sets.map((s) => s.fingerprints?.dim));
  if (dims.size !== 1) throw new Error(`collapse: fingerprint dims differ: ${[...dims].join(', ')}`);
  return sets[0]?.fingerprints?.dim ?? null;
}

/**
 * Collapse score of every folder image: mean cosine similarity to its k nearest other folder
 * images, near-duplicates (by fingerprint) excluded. Fewer than k admissible neighbours: the mean
 * of those there are; none: −1.
 */
export function collapseScores(folder: EmbeddingSet, settings: CollapseSettings = {}): Float64Array {
  const fDim = sharedFingerprintDim([folder]);
  const { k, pass } = passOf(settings, folder.embeddings.dim, fDim ?? 0);
  const f = side(folder, folder.embeddings.dim, fDim, 'folder');
  return means(scan(f, f, true, k, pass));
}

/**
 * Collapse score of every query image against a pool of other images: mean cosine similarity to
 * its k nearest pool images. With query = clean reference and pool = the folder, these are the
 * folder-size-matched clean scores (see the header).
 */
export function collapseScoresAgainst(query: EmbeddingSet, pool: EmbeddingSet, settings: CollapseSettings = {}): Float64Array {
  const fDim = sharedFingerprintDim([query, pool]);
  const d = pool.embeddings.dim;
  const { k, pass } = passOf(settings, d, fDim ?? 0);
  return means(scan(side(query, d, fDim, 'query'), side(pool, d, fDim, 'pool'), false, k, pass));
}

export interface CalibratedCollapse {
  /** [n] the folder images' collapse scores. */
  readonly scores: Float64Array;
  /** The clean reference images' scores against the folder, ascending. */
  readonly cleanScores: readonly number[];
  /** [n] conformal p-values (1 + #{clean ≥ s}) / (M + 1). */
  readonly pValues: Float64Array;
}

/**
 * Collapse scores of a folder with conformal p-values calibrated on clean reference images scored
 * against the same folder (valid for any folder size; see the header). Both sets need fingerprints
 * for near-duplicates to be excluded.
 */
export function calibratedCollapse(folder: EmbeddingSet, cleanRef: EmbeddingSet, settings: CollapseSettings = {}): CalibratedCollapse {
  return calibratedCollapseAt(folder, cleanRef, settings, [settings.k ?? DEFAULT_COLLAPSE_K])[0] as CalibratedCollapse;
}

/**
 * calibratedCollapse for several neighbour counts at once (settings.k is ignored): one blocked pass
 * keeps the max(ks) nearest per row, and each k's scores are the means of their first k.
 */
export function calibratedCollapseAt(folder: EmbeddingSet, cleanRef: EmbeddingSet, settings: CollapseSettings, ks: readonly number[]): CalibratedCollapse[] {
  if (folder.fingerprints && !cleanRef.fingerprints) throw new Error('collapse: the folder has fingerprints but the clean reference has none; give both or neither');
  if (cleanRef.fingerprints && !folder.fingerprints) throw new Error('collapse: the clean reference has fingerprints but the folder has none; give both or neither');
  if (ks.length === 0) throw new Error('collapse: no neighbour count given');
  const fDim = sharedFingerprintDim([folder, cleanRef]);
  const d = folder.embeddings.dim;
  const { k, pass } = passOf({ ...settings, k: Math.max(...ks) }, d, fDim ?? 0);
  ks.forEach((kk) => passOf({ ...settings, k: kk }, d, fDim ?? 0)); // each must be a valid k
  const f = side(folder, d, fDim, 'folder');
  const within = scan(f, f, true, k, pass);
  const against = scan(side(cleanRef, d, fDim, 'query'), f, false, k, pass);
  return ks.map((kk) => {
    const scores = means(within, kk);
    const cleanScores = Array.from(means(against, kk)).sort((a, b) => a - b);
    return { scores, cleanScores, pValues: pValues(scores, { cleanScores }) };
  });
}
