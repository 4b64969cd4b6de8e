// "The encoder sees these photos as …": what a backdoor maps its triggered photos to, shown by
// example. A decoder trained on clean embeddings cannot draw the attacker's target, but the clean
// reference photos whose embeddings sit closest to a cluster's mean embedding can be shown, with
// their similarity and how that compares with how close clean photos sit to each other. A BadEncoder
// target is a real photo's embedding, so its nearest clean photos are of that photo's kind, given
// enough of them: on the BadEncoder fixture (target: a fire truck), the mean embedding of 100 triggered
// photos has 4 trucks among its 5 nearest in 800 clean photos and 5 of 5 in 1,899, but 1 of 5 in the
// demo's 200 (20 a class; a horse, then automobiles and birds, sit as close for this small encoder).
import { rowCount, type Rows } from './collapse';

export interface ExampleMatch {
  /** Row of the reference set (e.g. a slot of the clean folder). */
  readonly index: number;
  /** Cosine similarity of the example's embedding to the target. */
  readonly similarity: number;
}

/** How close clean photos sit to their nearest other clean photo (cosine), for scale. */
export interface NeighbourScale {
  readonly median: number;
  readonly p95: number;
  /** Reference photos the scale was measured on. */
  readonly n: number;
}

export interface RevealExamples {
  readonly nearest: readonly ExampleMatch[];
  readonly scale: NeighbourScale;
}

function unitRows(rows: Rows): Float32Array {
  const n = rowCount(rows, 'reveal examples');
  const d = rows.dim;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let t = 0; t < d; t++) ss += rows.data[i * d + t]! ** 2;
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let t = 0; t < d; t++) out[i * d + t] = rows.data[i * d + t]! * inv;
  }
  return out;
}

function unit(v: Float32Array): Float32Array {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return Float32Array.from(v, (x) => (norm > 0 ? x / norm : 0));
}

/** The `k` reference rows most similar (cosine) to `target`, most similar first; ties by index. */
export function nearestExamples(target: Float32Array, reference: Rows, k = 5): ExampleMatch[] {
  if (target.length !== reference.dim) throw new Error(`reveal examples: a ${target.length}-value target for ${reference.dim}-value embeddings`);
  const ref = unitRows(reference);
  const t = unit(target);
  const d = reference.dim;
  const sims: ExampleMatch[] = [];
  for (let i = 0; i < ref.length / d; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += ref[i * d + j]! * t[j]!;
    sims.push({ index: i, similarity: s });
  }
  return sims.sort((a, b) => b.similarity - a.similarity || a.index - b.index).slice(0, k);
}

/** Each reference photo's cosine to its nearest other reference photo: median and 95th percentile. */
export function neighbourScale(reference: Rows): NeighbourScale {
  const ref = unitRows(reference);
  const d = reference.dim;
  const n = ref.length / d;
  if (n < 2) return { median: NaN, p95: NaN, n };
  const best = new Float64Array(n).fill(-Infinity);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += ref[i * d + t]! * ref[j * d + t]!;
      if (s > best[i]!) best[i] = s;
      if (s > best[j]!) best[j] = s;
    }
  const sorted = Array.from(best).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * (n - 1) + 0.5))]!;
  return { median: at(0.5), p95: at(0.95), n };
}

/** The nearest examples of a target with the scale to read them against. */
export function revealExamples(target: Float32Array, reference: Rows, k = 5): RevealExamples {
  return { nearest: nearestExamples(target, reference, k), scale: neighbourScale(reference) };
}
