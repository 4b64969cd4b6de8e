// "The encoder sees these photos as …": what a backdoor maps its triggered photos to, shown by
// example (docs/ARCHITECTURE.md §5.7.1). A decoder trained on clean embeddings cannot draw the
// attacker's target, but the clean reference photos whose embeddings sit closest to a cluster's
// mean embedding can be shown, with their similarity and how that compares with how close clean
// photos sit to each other. Where the reference photos sit in class folders, the folders are ranked
// too: a single nearest photo is noisy for a small encoder (on the demo's 200 photos a horse sits
// nearest the fire-truck target), the mean of a class's few nearest photos much less so.
//
// Similarities are cosines after subtracting the reference photos' mean embedding: SSL embeddings
// share a large common direction (raw cosines of unrelated photos sit near 0.9), which hides
// the differences between classes.
import { rowCount, type Rows } from './collapse';

export interface ExampleMatch {
  /** Row of the reference set (e.g. a slot of the clean folder). */
  readonly index: number;
  /** Centred cosine similarity of the example's embedding to the target. */
  readonly similarity: number;
}

/** A label (class folder) of the reference set, scored by how close its nearest photos sit to the target. */
export interface LabelMatch {
  readonly label: string;
  /** Mean similarity of the label's LABEL_TOP nearest photos (fewer when it has fewer). */
  readonly similarity: number;
  /** Reference photos with this label. */
  readonly count: number;
  /** The label's nearest photos, most similar first. */
  readonly nearest: readonly ExampleMatch[];
}

/** How close clean photos sit to their nearest other clean photo (centred cosine), for scale. */
export interface NeighbourScale {
  readonly median: number;
  readonly p95: number;
  /** Reference photos the scale was measured on (a sample of a large set, each against all). */
  readonly n: number;
}

export interface RevealExamples {
  /** The reference photos nearest the target, of any label. */
  readonly nearest: readonly ExampleMatch[];
  /** Labels best first; empty unless the reference photos carry at least two labels. */
  readonly labels: readonly LabelMatch[];
  readonly scale: NeighbourScale;
  /**
   * Share of sampled reference photos whose own nearest neighbour sits less close than the
   * target's nearest photo does: near 1, the target is as close to a reference photo as a
   * near-duplicate; near 0.5, as close as a typical photo to its neighbour.
   */
  readonly nearestPercentile: number;
}

export interface RevealExampleOptions {
  /** One label per reference row (null: none), e.g. from exampleLabel of each path. */
  readonly labels?: readonly (string | null)[];
  /** Photos listed: nearest overall and per label. */
  readonly k?: number;
  /** Reference photos whose nearest-neighbour similarity makes the scale (each against all). */
  readonly scaleSample?: number;
}

/** A label counts its this many nearest photos: one is noisy, many dilute a small class. */
export const LABEL_TOP = 3;
const SCALE_SAMPLE = 256;

/**
 * The class folder of a reference photo: the folders between the dropped folder and the file
 * ("clean/truck/a.png" → "truck"); null for a photo directly in the dropped folder.
 */
export function exampleLabel(path: string): string | null {
  const parts = path.split('/').filter((p) => p !== '');
  return parts.length >= 3 ? parts.slice(1, -1).join('/') : null;
}

/** Unit rows of `rows` minus `center`: a dot product is then the centred cosine. */
function centredUnitRows(rows: Rows, center: Float64Array): Float32Array {
  const n = rowCount(rows, 'reveal examples');
  const d = rows.dim;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let t = 0; t < d; t++) ss += (rows.data[i * d + t]! - center[t]!) ** 2;
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let t = 0; t < d; t++) out[i * d + t] = (rows.data[i * d + t]! - center[t]!) * inv;
  }
  return out;
}

function meanRow(rows: Rows): Float64Array {
  const n = rowCount(rows, 'reveal examples');
  const d = rows.dim;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let t = 0; t < d; t++) mean[t]! += rows.data[i * d + t]! / n;
  return mean;
}

const dot = (a: Float32Array, i: number, b: Float32Array, j: number, d: number): number => {
  let s = 0;
  for (let t = 0; t < d; t++) s += a[i * d + t]! * b[j * d + t]!;
  return s;
};

const bySimilarity = (a: ExampleMatch, b: ExampleMatch) => b.similarity - a.similarity || a.index - b.index;

/** Evenly spaced rows, at most `m` of them: a deterministic sample that covers the folder. */
function spread(n: number, m: number): number[] {
  if (n <= m) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: m }, (_, i) => Math.floor(((i + 0.5) * n) / m));
}

/** Each sampled reference photo's similarity to its nearest other reference photo, ascending. */
function neighbourSimilarities(ref: Float32Array, n: number, d: number, sample: number): number[] {
  const best = spread(n, sample).map((i) => {
    let b = -Infinity;
    for (let j = 0; j < n; j++) if (j !== i) b = Math.max(b, dot(ref, i, ref, j, d));
    return b;
  });
  return best.sort((a, b) => a - b);
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]!;
}

/** Labels ranked by the mean similarity of their LABEL_TOP nearest photos; [] with fewer than two labels. */
function rankLabels(ranked: readonly ExampleMatch[], labels: readonly (string | null)[], k: number): LabelMatch[] {
  const groups = new Map<string, ExampleMatch[]>();
  for (const m of ranked) {
    const label = labels[m.index];
    if (label === null || label === undefined) continue;
    let g = groups.get(label);
    if (!g) groups.set(label, (g = []));
    g.push(m);
  }
  if (groups.size < 2) return [];
  return Array.from(groups, ([label, g]) => {
    const top = g.slice(0, LABEL_TOP);
    return { label, similarity: top.reduce((s, m) => s + m.similarity, 0) / top.length, count: g.length, nearest: g.slice(0, k) };
  }).sort((a, b) => b.similarity - a.similarity || (a.label < b.label ? -1 : 1));
}

/** The reference set made ready once for any number of targets: centred unit rows and the neighbour scale. */
export interface ExampleReference {
  readonly dim: number;
  readonly count: number;
  readonly center: Float64Array;
  /** Centred unit rows. */
  readonly rows: Float32Array;
  readonly labels: readonly (string | null)[] | null;
  /** Each sampled row's similarity to its nearest other row, ascending. */
  readonly neighbours: readonly number[];
}

/** Centres the reference rows and measures their neighbour scale: the part of revealExamples every cluster shares. */
export function exampleReference(reference: Rows, options: Omit<RevealExampleOptions, 'k'> = {}): ExampleReference {
  const d = reference.dim;
  const n = rowCount(reference, 'reveal examples');
  if (options.labels && options.labels.length !== n) throw new Error(`reveal examples: ${options.labels.length} labels for ${n} reference photos`);
  const center = meanRow(reference);
  const rows = centredUnitRows(reference, center);
  const neighbours = n >= 2 ? neighbourSimilarities(rows, n, d, options.scaleSample ?? SCALE_SAMPLE) : [];
  return { dim: d, count: n, center, rows, labels: options.labels ?? null, neighbours };
}

/** The nearest examples of one target in a prepared reference set. */
export function examplesFor(ref: ExampleReference, target: Float32Array, k = 5): RevealExamples {
  if (target.length !== ref.dim) throw new Error(`reveal examples: a ${target.length}-value target for ${ref.dim}-value embeddings`);
  const t = centredUnitRows({ dim: ref.dim, data: target }, ref.center);
  const ranked: ExampleMatch[] = Array.from({ length: ref.count }, (_, i) => ({ index: i, similarity: dot(ref.rows, i, t, 0, ref.dim) })).sort(bySimilarity);
  const top = ranked[0]?.similarity ?? NaN;
  const { neighbours } = ref;
  return {
    nearest: ranked.slice(0, k),
    labels: ref.labels ? rankLabels(ranked, ref.labels, k) : [],
    scale: { median: quantile(neighbours, 0.5), p95: quantile(neighbours, 0.95), n: neighbours.length },
    nearestPercentile: neighbours.length === 0 ? NaN : neighbours.filter((s) => s < top).length / neighbours.length,
  };
}

/** The nearest examples of a target, by photo and by label, with the scale to read them against. */
export function revealExamples(target: Float32Array, reference: Rows, options: RevealExampleOptions = {}): RevealExamples {
  return examplesFor(exampleReference(reference, options), target, options.k ?? 5);
}
