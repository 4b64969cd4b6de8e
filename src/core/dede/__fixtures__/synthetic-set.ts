// Synthetic folders for the set-level tests (no encoder needed): clean embeddings are a mixture of
// class clusters; a backdoored encoder maps triggered images onto one target embedding (cosine ≈
// 0.99, docs/ARCHITECTURE.md §8.2); a clean encoder embeds them like clean images with a small
// shared shift (the stamped patch is a shared visual feature). Pixel fingerprints are random unit
// rows, so two images are near-duplicates only when salted as such. DeDe scores: N(0, 1) clean,
// N(shift, 1) triggered.
import type { Rows } from '../collapse';
import { mulberry32, normal, permutation, type Rng } from '../rng';

export const SYN_DIM = 32;
export const SYN_FINGERPRINT_DIM = 64;
const CLASSES = 10;
/** Spread of a clean image around its class centre (per unit-norm centre). */
const CLASS_SPREAD = 0.9;
/** Spread of a triggered image around the target under a backdoored encoder: cosine ≈ 0.99. */
const TARGET_SPREAD = 0.15;

export interface SyntheticSet {
  readonly embeddings: Rows;
  readonly fingerprints: Rows;
  readonly dedeScores: Float64Array;
  /** true = triggered. */
  readonly labels: boolean[];
}

export interface FolderSpec {
  readonly n: number;
  /** Number of triggered images (exact). */
  readonly triggered?: number;
  readonly encoder?: 'backdoored' | 'clean';
  /** Mean DeDe score of triggered images (clean ones are N(0, 1)). Default 1.5. */
  readonly dedeShift?: number;
  /** Clean images replaced by near-duplicates of other clean images (half exact, half perturbed). */
  readonly duplicates?: number;
  readonly seed: number;
}

function unit(v: Float64Array): Float64Array {
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return v.map((x) => x / norm);
}

function gaussian(rng: Rng, d: number): Float64Array {
  return Float64Array.from({ length: d }, () => normal(rng));
}

export class SyntheticWorld {
  readonly centres: Float64Array[];
  readonly target: Float64Array;
  /** The clean encoder's shared feature of the stamped patch. */
  readonly patchFeature: Float64Array;

  constructor(seed = 1) {
    const rng = mulberry32(seed);
    this.centres = Array.from({ length: CLASSES }, () => unit(gaussian(rng, SYN_DIM)));
    // The attacker's reference image belongs to class 0: its embedding is near that class.
    this.target = unit(this.centres[0]!.map((c, t) => c + 0.6 * (gaussian(rng, SYN_DIM)[t] as number) / Math.sqrt(SYN_DIM)));
    this.patchFeature = unit(gaussian(rng, SYN_DIM));
  }

  private cleanEmbedding(rng: Rng): Float64Array {
    const c = this.centres[Math.floor(rng() * CLASSES)] as Float64Array;
    const scale = 0.5 + rng(); // raw embeddings are not normalised
    return c.map((x) => scale * (x + (CLASS_SPREAD * normal(rng)) / Math.sqrt(SYN_DIM)));
  }

  private triggeredEmbedding(rng: Rng, encoder: 'backdoored' | 'clean'): Float64Array {
    if (encoder === 'clean') {
      const e = this.cleanEmbedding(rng);
      const norm = Math.sqrt(e.reduce((a, x) => a + x * x, 0));
      return e.map((x, t) => x + 0.3 * norm * (this.patchFeature[t] as number));
    }
    return this.target.map((x) => 2 * (x + (TARGET_SPREAD * normal(rng)) / Math.sqrt(SYN_DIM)));
  }

  /** A folder: triggered images first are NOT assumed by the tests (they are shuffled in). */
  folder(spec: FolderSpec): SyntheticSet {
    const rng = mulberry32(spec.seed);
    const n = spec.n;
    const triggered = spec.triggered ?? 0;
    const labels = Array.from({ length: n }, () => false);
    // Place the triggered images at random positions.
    const order = permutation(n, rng);
    for (let t = 0; t < triggered; t++) labels[order[t] as number] = true;
    const emb = new Float32Array(n * SYN_DIM);
    const fp = new Float32Array(n * SYN_FINGERPRINT_DIM);
    const dede = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const e = labels[i] ? this.triggeredEmbedding(rng, spec.encoder ?? 'backdoored') : this.cleanEmbedding(rng);
      emb.set(e, i * SYN_DIM);
      fp.set(unit(gaussian(rng, SYN_FINGERPRINT_DIM)), i * SYN_FINGERPRINT_DIM);
      dede[i] = normal(rng) + (labels[i] ? (spec.dedeShift ?? 1.5) : 0);
    }
    // Salt near-duplicates: a clean image j becomes a copy of clean image i (same photo re-saved):
    // nearly the same embedding, fingerprint and DeDe score.
    const clean = order.slice(triggered);
    for (let s = 0; s < (spec.duplicates ?? 0); s++) {
      const i = clean[2 * s] as number;
      const j = clean[2 * s + 1] as number;
      if (j === undefined) throw new Error('synthetic: too many duplicates for the clean images');
      const exact = s % 2 === 0;
      for (let t = 0; t < SYN_DIM; t++) emb[j * SYN_DIM + t] = (emb[i * SYN_DIM + t] as number) * (exact ? 1 : 1 + 0.01 * normal(rng));
      for (let t = 0; t < SYN_FINGERPRINT_DIM; t++) fp[j * SYN_FINGERPRINT_DIM + t] = (fp[i * SYN_FINGERPRINT_DIM + t] as number) + (exact ? 0 : 0.02 * normal(rng));
      dede[j] = (dede[i] as number) + (exact ? 0 : 0.05 * normal(rng));
    }
    return { embeddings: { data: emb, dim: SYN_DIM }, fingerprints: { data: fp, dim: SYN_FINGERPRINT_DIM }, dedeScores: dede, labels };
  }

  /** Clean reference images (no triggered ones). */
  clean(n: number, seed: number): SyntheticSet {
    return this.folder({ n, seed });
  }
}
