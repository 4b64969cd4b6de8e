// Review logic without React: the review threshold re-flags rows, sorting, filtering, and the
// evaluation labels used for ROC/AUROC. Pure functions over the scan store's rows and tags.
import type { ScanFolder } from '../../core/workflow/scan-table';
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
export function evaluationLabel(r: Pick<ScanRow, 'role'>, tag: Tag | undefined, mode: NegativesMode): EvalLabel {
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

/**
 * Rows by index without an object per row: a ScanTable is one (the report reads it this way);
 * an array of rows becomes one through byIndex.
 */
export interface RowsByIndex {
  readonly length: number;
  score(i: number): number;
  folderOf(i: number): ScanFolder;
  slot(i: number): number;
}

export function byIndex(rows: readonly ScanRow[]): RowsByIndex {
  return { length: rows.length, score: (i) => rows[i]!.score, slot: (i) => rows[i]!.slot, folderOf: (i) => ({ id: rows[i]!.datasetId, name: rows[i]!.datasetName, role: rows[i]!.role }) };
}

export function evaluationSet(rows: RowsByIndex | readonly ScanRow[], tags: Readonly<Record<string, Tag>>, mode: NegativesMode): EvaluationSet {
  const src = Array.isArray(rows) ? byIndex(rows) : (rows as RowsByIndex);
  // A key string per row only when there are tags to look up.
  const tagged = Object.keys(tags).length > 0;
  const scores = new Float64Array(src.length);
  const labels: boolean[] = [];
  let positives = 0;
  let hasPoisonedFolder = false;
  for (let i = 0; i < src.length; i++) {
    const folder = src.folderOf(i);
    if (folder.role === 'poisoned') hasPoisonedFolder = true;
    const l = evaluationLabel(folder, tagged ? tags[keyOf({ datasetId: folder.id, slot: src.slot(i) })] : undefined, mode);
    if (l === null) continue;
    scores[labels.length] = src.score(i);
    labels.push(l);
    if (l) positives++;
  }
  return { scores: scores.slice(0, labels.length), labels, positives, negatives: labels.length - positives, hasPoisonedFolder };
}

/** Per-folder counts at a threshold. */
export function folderCounts(rows: RowsByIndex, threshold: number): Map<string, { name: string; role: ScanRow['role']; count: number; flagged: number }> {
  const out = new Map<string, { name: string; role: ScanRow['role']; count: number; flagged: number }>();
  for (let i = 0; i < rows.length; i++) {
    const folder = rows.folderOf(i);
    let f = out.get(folder.id);
    if (!f) out.set(folder.id, (f = { name: folder.name, role: folder.role, count: 0, flagged: 0 }));
    f.count++;
    if (rows.score(i) > threshold) f.flagged++;
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
