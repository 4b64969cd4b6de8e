// Candidate per-image scores (issue 16), measured side by side on one fixture encoder: each maps an
// image set (normalised pixels [n, 3, 32, 32], its embeddings, the decoder's reconstructions from
// the embeddings alone, and embeddings of a few views) to one number per image, higher = more
// suspicious. The bench picks the product's decoderScore from this table (bench/results/scores-*.json).
import { SIDE } from './data';

const HW = SIDE * SIDE;
const PX = 3 * HW;

export interface CandidateInputs {
  readonly n: number;
  /** [n, 3, 32, 32] normalised. */
  readonly images: Float32Array;
  /** [n, 3, 32, 32] the decoder's reconstruction from the embedding alone (mask 0.99: no patch visible). */
  readonly recon: Float32Array;
  readonly dim: number;
  /** E(x), E(x̂) by the scanned encoder. */
  readonly emb: Float32Array;
  readonly embRecon: Float32Array;
  /** T(x), T(x̂) by a trusted reference encoder (the clean fixture). */
  readonly trustDim: number;
  readonly trust: Float32Array;
  readonly trustRecon: Float32Array;
  /** E of benign views of x (horizontal flip, 3×3 box blur). */
  readonly embFlip: Float32Array;
  readonly embBlur: Float32Array;
  /** The paper's dedeScore and today's median score, from the Scorer. */
  readonly dedeScore: Float64Array;
  readonly median: Float64Array;
}

function cosDist(a: Float32Array, b: Float32Array, dim: number, i: number): number {
  let ab = 0, aa = 0, bb = 0;
  for (let k = 0; k < dim; k++) {
    const x = a[i * dim + k] as number;
    const y = b[i * dim + k] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return 1 - ab / Math.sqrt(aa * bb + 1e-12);
}

/** Average pool of one CHW image over `cell`×`cell` blocks: [3, S/cell, S/cell]. */
export function pool(img: Float32Array, cell: number): Float32Array {
  const g = SIDE / cell;
  const out = new Float32Array(3 * g * g);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < SIDE; y++)
      for (let x = 0; x < SIDE; x++) out[(c * g + Math.floor(y / cell)) * g + Math.floor(x / cell)]! += (img[c * HW + y * SIDE + x] as number) / (cell * cell);
  return out;
}

/** Per-cell squared error of the pooled images, summed over channels: [g·g]. */
function cellErrors(x: Float32Array, r: Float32Array, cell: number): Float64Array {
  const px = pool(x, cell);
  const pr = pool(r, cell);
  const g = SIDE / cell;
  const out = new Float64Array(g * g);
  for (let c = 0; c < 3; c++) for (let k = 0; k < g * g; k++) out[k]! += ((px[c * g * g + k] as number) - (pr[c * g * g + k] as number)) ** 2;
  return out;
}

const mean = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] as number;
  return s / a.length;
};
const quantile = (a: ArrayLike<number>, q: number): number => {
  const s = Float64Array.from(a).sort();
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
};

/** 1 − Pearson correlation of the two images' pooled luminance-free structure (per channel, centred). */
function structureDist(x: Float32Array, r: Float32Array, cell: number): number {
  const px = pool(x, cell);
  const pr = pool(r, cell);
  const g2 = (SIDE / cell) ** 2;
  let tot = 0;
  for (let c = 0; c < 3; c++) {
    const a = px.subarray(c * g2, (c + 1) * g2);
    const b = pr.subarray(c * g2, (c + 1) * g2);
    const ma = mean(a), mb = mean(b);
    let ab = 0, aa = 0, bb = 0;
    for (let k = 0; k < g2; k++) {
      ab += ((a[k] as number) - ma) * ((b[k] as number) - mb);
      aa += ((a[k] as number) - ma) ** 2;
      bb += ((b[k] as number) - mb) ** 2;
    }
    tot += 1 - ab / Math.sqrt(aa * bb + 1e-12);
  }
  return tot / 3;
}

export type CandidateName = string;

export function candidateScores(c: CandidateInputs): Record<CandidateName, Float64Array> {
  const out: Record<string, Float64Array> = {};
  const put = (name: string, f: (i: number, x: Float32Array, r: Float32Array) => number): void => {
    const v = new Float64Array(c.n);
    for (let i = 0; i < c.n; i++) v[i] = f(i, c.images.subarray(i * PX, (i + 1) * PX), c.recon.subarray(i * PX, (i + 1) * PX));
    out[name] = v;
  };
  out['median patch error (today)'] = c.median;
  out['dedeScore (paper)'] = c.dedeScore;
  for (const cell of [2, 4, 8, 16]) {
    put(`low-pass ${cell}px: mean cell error`, (_, x, r) => mean(cellErrors(x, r, cell)));
    put(`low-pass ${cell}px: median cell error`, (_, x, r) => quantile(cellErrors(x, r, cell), 0.5));
  }
  put('low-pass 4px: quantile 0.25 cell error', (_, x, r) => quantile(cellErrors(x, r, 4), 0.25));
  put('structure 4px: 1 − corr', (_, x, r) => structureDist(x, r, 4));
  put('structure 8px: 1 − corr', (_, x, r) => structureDist(x, r, 8));
  put('own encoder: 1 − cos(E(x), E(x̂))', (i) => cosDist(c.emb, c.embRecon, c.dim, i));
  put('trusted encoder: 1 − cos(T(x), T(x̂))', (i) => cosDist(c.trust, c.trustRecon, c.trustDim, i));
  put('view: 1 − cos(E(x), E(flip x))', (i) => cosDist(c.emb, c.embFlip, c.dim, i));
  put('view: 1 − cos(E(x), E(blur x))', (i) => cosDist(c.emb, c.embBlur, c.dim, i));
  return out;
}

/** Benign views of normalised CHW images: horizontal flip and a 3×3 box blur (edges clamped). */
export function flipImages(images: Float32Array): Float32Array {
  const out = new Float32Array(images.length);
  for (let p = 0; p < images.length; p += HW)
    for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) out[p + y * SIDE + x] = images[p + y * SIDE + (SIDE - 1 - x)] as number;
  return out;
}

export function blurImages(images: Float32Array): Float32Array {
  const out = new Float32Array(images.length);
  const cl = (v: number): number => Math.min(SIDE - 1, Math.max(0, v));
  for (let p = 0; p < images.length; p += HW)
    for (let y = 0; y < SIDE; y++)
      for (let x = 0; x < SIDE; x++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += images[p + cl(y + dy) * SIDE + cl(x + dx)] as number;
        out[p + y * SIDE + x] = s / 9;
      }
  return out;
}
