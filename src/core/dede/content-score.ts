// The content score (docs/ARCHITECTURE.md §5.3.1): the per-image decoderScore that enters the
// verdict. A backdoor replaces a triggered photo's content in its embedding by the attacker's
// target, so (1) the decoder redraws another picture: its coarse colour layout differs from the
// input's (`lowPass`, trimmed so that a local trigger's few cells do not count), and its embedding
// differs from the input's (`semantic`); and (2) the embedding no longer behaves like a photo's
// under a content-preserving view: a horizontal flip moves it far more (a positioned trigger
// breaks) or far less (a global trigger dominates) than it moves a clean photo's (`flip`, judged
// two-sided). Each component is put on a robust z-scale fitted on clean images (median and MAD of
// its logarithm) and the score is their weighted mean (weights: inverse clean variance), |z| for the flip. The paper's dedeScore and the
// median patch error stay as reported components. Pure functions; the encoder and decoder calls
// that produce the inputs are in content-scorer.ts.

/** The three measured components of one image (all ≥ 0, larger = less like a clean photo, except flip: both ways). */
export interface ContentComponents {
  /** 1 − cos(E(x), E(x̂)): the encoder's embedding of the reconstruction against the input's. */
  readonly semantic: number;
  /** Trimmed mean over a 4×4 grid of the cells' squared colour error between x and x̂ (lowPassError). */
  readonly lowPass: number;
  /** 1 − cos(E(x), E(flip x)). */
  readonly flip: number;
}

export const CONTENT_COMPONENTS = ['semantic', 'lowPass', 'flip'] as const;
export type ContentComponent = (typeof CONTENT_COMPONENTS)[number];

/** Robust location and spread of log(component) on clean images. */
export interface ComponentScale {
  readonly center: number;
  readonly spread: number;
}

export type ContentScale = Readonly<Record<ContentComponent, ComponentScale>> & {
  /** Clean images the scale was fitted on. */
  readonly images: number;
  /**
   * Each component's weight in the score (sum 1): inverse of the variance of its z on the clean
   * images, so a component that scatters clean photos more counts less. Absent in scales fitted
   * before weights existed: equal weights (the plain mean).
   */
  readonly weights?: Readonly<Record<ContentComponent, number>>;
};

/** The low-pass grid: 4×4 cells whatever the image size (8 px cells at 32 px). */
export const LOW_PASS_GRID = 4;
/** Share of the grid's cells (the lowest errors) that count: a 10×10 patch on 32 px touches 4 of 16. */
export const LOW_PASS_KEEP = 0.75;
/** Below this a logarithm is taken of this instead (a perfect reconstruction, a constant image). */
const FLOOR = 1e-12;
/** A spread of zero (all clean values equal) would divide by zero: at least this much. */
const MIN_SPREAD = 1e-6;
/** MAD to standard deviation for normal data. */
const MAD_TO_SD = 1.4826;

/**
 * Squared error of cell means on a LOW_PASS_GRID² grid (cell c spans rows ⌊c·H/G⌋ … ⌊(c+1)·H/G⌋ − 1),
 * summed over channels; the mean of the lowest ⌊LOW_PASS_KEEP·G²⌋ cells. `x`, `r`: [C, H, W].
 */
export function lowPassError(x: Float32Array, r: Float32Array, channels: number, height: number, width: number): number {
  const size = channels * height * width;
  if (x.length !== size || r.length !== size) throw new Error(`lowPassError: expected ${size} values ([${channels},${height},${width}]), got ${x.length} and ${r.length}`);
  const G = LOW_PASS_GRID;
  if (height < G || width < G) throw new Error(`lowPassError: images must be at least ${G}×${G}, got ${height}×${width}`);
  const cells = new Float64Array(G * G);
  for (let c = 0; c < channels; c++)
    for (let gy = 0; gy < G; gy++) {
      const y0 = Math.floor((gy * height) / G);
      const y1 = Math.floor(((gy + 1) * height) / G);
      for (let gx = 0; gx < G; gx++) {
        const x0 = Math.floor((gx * width) / G);
        const x1 = Math.floor(((gx + 1) * width) / G);
        let d = 0;
        for (let y = y0; y < y1; y++)
          for (let xx = x0; xx < x1; xx++) {
            const k = (c * height + y) * width + xx;
            d += (r[k] as number) - (x[k] as number);
          }
        const mean = d / ((y1 - y0) * (x1 - x0));
        cells[gy * G + gx] = (cells[gy * G + gx] as number) + mean * mean;
      }
    }
  cells.sort();
  const keep = Math.floor(LOW_PASS_KEEP * G * G);
  let s = 0;
  for (let i = 0; i < keep; i++) s += cells[i] as number;
  return s / keep;
}

/** 1 − cos(a, b) of two vectors (0 for identical directions; 1 when either is zero). */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosineDistance: vectors of ${a.length} and ${b.length} values`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const p = a[i] as number;
    const q = b[i] as number;
    ab += p * q;
    aa += p * p;
    bb += q * q;
  }
  return aa === 0 || bb === 0 ? 1 : 1 - ab / Math.sqrt(aa * bb);
}

/** Images [n, C, H, W] mirrored left–right. */
export function flipHorizontal(images: Float32Array, channels: number, height: number, width: number): Float32Array {
  const plane = height * width;
  if (images.length % (channels * plane) !== 0) throw new Error(`flipHorizontal: ${images.length} values is not a whole number of [${channels},${height},${width}] images`);
  const out = new Float32Array(images.length);
  for (let row = 0; row < images.length; row += width)
    for (let x = 0; x < width; x++) out[row + x] = images[row + width - 1 - x] as number;
  return out;
}

/**
 * Bilinear resize of images [n, C, sh, sw] to [n, C, dh, dw] with half-pixel centres and edge clamping
 * (torch's F.interpolate(mode='bilinear', align_corners=False)): the decoder's reconstruction at its
 * own size brought to the encoder's input size.
 */
export function resizeBilinear(images: Float32Array, channels: number, sh: number, sw: number, dh: number, dw: number): Float32Array {
  const src = sh * sw;
  if (images.length % (channels * src) !== 0) throw new Error(`resizeBilinear: ${images.length} values is not a whole number of [${channels},${sh},${sw}] images`);
  if (sh === dh && sw === dw) return images.slice();
  const planes = images.length / src;
  const out = new Float32Array(planes * dh * dw);
  const axis = (d: number, s: number, i: number): [number, number, number] => {
    const p = Math.max(0, ((i + 0.5) * s) / d - 0.5);
    const lo = Math.min(Math.floor(p), s - 1);
    return [lo, Math.min(lo + 1, s - 1), p - lo];
  };
  const ys = Array.from({ length: dh }, (_, i) => axis(dh, sh, i));
  const xs = Array.from({ length: dw }, (_, i) => axis(dw, sw, i));
  for (let p = 0; p < planes; p++) {
    const base = p * src;
    for (let y = 0; y < dh; y++) {
      const [y0, y1, fy] = ys[y]!;
      for (let x = 0; x < dw; x++) {
        const [x0, x1, fx] = xs[x]!;
        const top = (images[base + y0 * sw + x0] as number) * (1 - fx) + (images[base + y0 * sw + x1] as number) * fx;
        const bottom = (images[base + y1 * sw + x0] as number) * (1 - fx) + (images[base + y1 * sw + x1] as number) * fx;
        out[(p * dh + y) * dw + x] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

const logOf = (v: number): number => Math.log(Math.max(v, FLOOR));

function medianOf(values: readonly number[]): number {
  const s = Float64Array.from(values).sort();
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median and MAD·1.4826 of log(component) over clean images' components. */
export function fitContentScale(clean: readonly ContentComponents[]): ContentScale {
  if (clean.length < 2) throw new Error(`fitContentScale: needs at least 2 clean images, got ${clean.length}`);
  const fit = (k: ContentComponent): ComponentScale => {
    const logs = clean.map((c) => logOf(c[k]));
    if (!logs.every(Number.isFinite)) throw new Error(`fitContentScale: a clean image's ${k} is not a finite number`);
    const center = medianOf(logs);
    const spread = Math.max(MIN_SPREAD, MAD_TO_SD * medianOf(logs.map((l) => Math.abs(l - center))));
    return { center, spread };
  };
  const unweighted = { semantic: fit('semantic'), lowPass: fit('lowPass'), flip: fit('flip'), images: clean.length };
  return { ...unweighted, weights: inverseVarianceWeights(clean.map((c) => contentZ(c, unweighted))) };
}

/** The weights of a scale fitted before weights existed: the plain mean. */
export const EQUAL_WEIGHTS: Readonly<Record<ContentComponent, number>> = { semantic: 1 / 3, lowPass: 1 / 3, flip: 1 / 3 };

/** Weights ∝ 1 / variance of each component's clean z (normalised to sum 1; a zero variance counts as MIN_SPREAD²). */
export function inverseVarianceWeights(cleanZ: readonly Record<ContentComponent, number>[]): Record<ContentComponent, number> {
  const n = cleanZ.length;
  if (n < 2) throw new Error(`inverseVarianceWeights: needs at least 2 clean images, got ${n}`);
  const inv = (k: ContentComponent): number => {
    const mean = cleanZ.reduce((a, z) => a + z[k], 0) / n;
    const variance = cleanZ.reduce((a, z) => a + (z[k] - mean) ** 2, 0) / (n - 1);
    return 1 / Math.max(variance, MIN_SPREAD * MIN_SPREAD);
  };
  const raw = { semantic: inv('semantic'), lowPass: inv('lowPass'), flip: inv('flip') };
  const total = raw.semantic + raw.lowPass + raw.flip;
  return { semantic: raw.semantic / total, lowPass: raw.lowPass / total, flip: raw.flip / total };
}

/** The weights a scale scores with (equal for a scale fitted before weights existed). */
export function contentWeights(s: ContentScale): Readonly<Record<ContentComponent, number>> {
  return s.weights ?? EQUAL_WEIGHTS;
}

/** The robust z of each component on the clean scale (flip two-sided). */
export function contentZ(c: ContentComponents, s: ContentScale): Record<ContentComponent, number> {
  const z = (k: ContentComponent): number => (logOf(c[k]) - s[k].center) / s[k].spread;
  return { semantic: z('semantic'), lowPass: z('lowPass'), flip: Math.abs(z('flip')) };
}

/** decoderScore: the weighted mean of the components' z (docs/ARCHITECTURE.md §5.3.1). */
export function contentScore(c: ContentComponents, s: ContentScale): number {
  const z = contentZ(c, s);
  const w = contentWeights(s);
  return w.semantic * z.semantic + w.lowPass * z.lowPass + w.flip * z.flip;
}

/** Throws unless `s` is a well-formed scale (read from JSON). */
export function checkContentScale(s: ContentScale): void {
  for (const k of CONTENT_COMPONENTS) {
    const v = s[k] as ComponentScale | undefined;
    if (!v || !Number.isFinite(v.center) || !(v.spread > 0)) throw new Error(`content score scale: ${k} needs a finite center and a positive spread`);
  }
  if (s.weights !== undefined) {
    const w = s.weights;
    if (!CONTENT_COMPONENTS.every((k) => Number.isFinite(w[k]) && w[k] >= 0) || Math.abs(w.semantic + w.lowPass + w.flip - 1) > 1e-6)
      throw new Error('content score scale: weights must be three non-negative numbers that sum to 1');
  }
  if (!(Number.isInteger(s.images) && s.images >= 2)) throw new Error(`content score scale: fitted on ${s.images} images; needs at least 2`);
}
