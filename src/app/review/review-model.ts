// Review logic without React: the review threshold re-flags rows, sorting, filtering, and the
// evaluation labels used for ROC/AUROC. Pure functions over the scan store's rows and tags.
import type { ScanRow, Tag } from '../scan/scan-store';

export type SortKey = 'score-desc' | 'score-asc' | 'dede-desc' | 'pvalue-asc' | 'path-asc';

export const SORT_LABEL: Record<SortKey, string> = {
  'score-desc': 'Score, highest first',
  'score-asc': 'Score, lowest first',
  'dede-desc': 'DeDe score, highest first',
  'pvalue-asc': 'p-value, lowest first',
  'path-asc': 'Path, A–Z',
};

export type TagFilter = 'any' | 'poisoned' | 'clean' | 'untagged';

export interface ReviewFilters {
  readonly flaggedOnly: boolean;
  /** Inclusive score bounds; null = open. */
  readonly minScore: number | null;
  readonly maxScore: number | null;
  /** A dataset id, or null for every folder. */
  readonly folder: string | null;
  readonly tag: TagFilter;
}

export const NO_FILTERS: ReviewFilters = { flaggedOnly: false, minScore: null, maxScore: null, folder: null, tag: 'any' };

export const keyOf = (r: Pick<ScanRow, 'datasetId' | 'slot'>): string => `${r.datasetId}:${r.slot}`;

/** The decision rule everywhere: flagged when score > τ. */
export const isFlaggedAt = (score: number, threshold: number): boolean => score > threshold;

export function countFlagged(rows: readonly Pick<ScanRow, 'score'>[], threshold: number): number {
  let n = 0;
  for (const r of rows) if (r.score > threshold) n++;
  return n;
}

/** countFlagged over a score column (a scan table's), without row objects. */
export function countScoresAbove(scores: ArrayLike<number>, threshold: number): number {
  let n = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > threshold) n++;
  return n;
}

/** Rows with `flagged` recomputed at `threshold` (the same objects where nothing changes). */
export function reflag<R extends Pick<ScanRow, 'score' | 'flagged'>>(rows: readonly R[], threshold: number): R[] {
  return rows.map((r) => (isFlaggedAt(r.score, threshold) === r.flagged ? r : { ...r, flagged: !r.flagged }));
}

function compare(sort: SortKey): (a: ScanRow, b: ScanRow) => number {
  switch (sort) {
    case 'score-desc':
      return (a, b) => b.score - a.score || a.path.localeCompare(b.path);
    case 'score-asc':
      return (a, b) => a.score - b.score || a.path.localeCompare(b.path);
    case 'dede-desc':
      return (a, b) => b.dedeScore - a.dedeScore || b.score - a.score;
    case 'pvalue-asc':
      return (a, b) => a.pValue - b.pValue || b.score - a.score;
    case 'path-asc':
      return (a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.slot - b.slot);
  }
}

export function sortRows(rows: readonly ScanRow[], sort: SortKey): ScanRow[] {
  return [...rows].sort(compare(sort));
}

export function filterRows(sorted: readonly ScanRow[], f: ReviewFilters, threshold: number, tags: Readonly<Record<string, Tag>>): ScanRow[] {
  return sorted.filter((r) => {
    if (f.flaggedOnly && !(r.score > threshold)) return false;
    if (f.minScore !== null && r.score < f.minScore) return false;
    if (f.maxScore !== null && r.score > f.maxScore) return false;
    if (f.folder !== null && r.datasetId !== f.folder) return false;
    if (f.tag !== 'any') {
      const t = tags[keyOf(r)];
      if (f.tag === 'untagged' ? t !== undefined : t !== f.tag) return false;
    }
    return true;
  });
}

/**
 * Which untagged suspect-folder images count as negatives:
 * - 'suspect': all of them (assumes the suspect folder is mostly clean; hidden poisons lower the numbers),
 * - 'tagged': none; negatives are only images the reviewer tagged clean.
 */
export type NegativesMode = 'suspect' | 'tagged';

export const LABEL_DEFINITION: Record<NegativesMode, string> = {
  suspect:
    'Positives: images in known-poisoned folders and images tagged poisoned. Negatives: images tagged clean and every other image of the suspect folders (untagged suspect images are assumed clean, so poisons hidden among them lower these numbers). A tag always overrides the folder.',
  tagged:
    'Positives: images in known-poisoned folders and images tagged poisoned. Negatives: only images tagged clean. Untagged suspect images are left out. A tag always overrides the folder.',
};

export type EvalLabel = boolean | null;

/** true = positive, false = negative, null = left out. */
export function evaluationLabel(r: Pick<ScanRow, 'role' | 'datasetId' | 'slot'>, tag: Tag | undefined, mode: NegativesMode): EvalLabel {
  if (tag === 'poisoned') return true;
  if (tag === 'clean') return false;
  if (r.role === 'poisoned') return true;
  if (r.role === 'suspect' && mode === 'suspect') return false;
  return null;
}

export interface EvaluationSet {
  readonly scores: Float64Array;
  readonly labels: boolean[];
  readonly positives: number;
  readonly negatives: number;
  readonly hasPoisonedFolder: boolean;
}

export function evaluationSet(rows: Iterable<ScanRow>, tags: Readonly<Record<string, Tag>>, mode: NegativesMode): EvaluationSet {
  const scores: number[] = [];
  const labels: boolean[] = [];
  let positives = 0;
  let hasPoisonedFolder = false;
  for (const r of rows) {
    if (r.role === 'poisoned') hasPoisonedFolder = true;
    const l = evaluationLabel(r, tags[keyOf(r)], mode);
    if (l === null) continue;
    scores.push(r.score);
    labels.push(l);
    if (l) positives++;
  }
  return { scores: Float64Array.from(scores), labels, positives, negatives: labels.length - positives, hasPoisonedFolder };
}

/** Per-folder counts at a threshold. */
export function folderCounts(rows: Iterable<ScanRow>, threshold: number): Map<string, { name: string; role: ScanRow['role']; count: number; flagged: number }> {
  const out = new Map<string, { name: string; role: ScanRow['role']; count: number; flagged: number }>();
  for (const r of rows) {
    let f = out.get(r.datasetId);
    if (!f) out.set(r.datasetId, (f = { name: r.datasetName, role: r.role, count: 0, flagged: 0 }));
    f.count++;
    if (r.score > threshold) f.flagged++;
  }
  return out;
}

/** Keyboard step for a threshold slider over [lo, hi]: 1/200 of the range, 1/20 with PageUp/Down. */
export function thresholdStep(lo: number, hi: number, big: boolean): number {
  return ((hi - lo) || 1) / (big ? 20 : 200);
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
