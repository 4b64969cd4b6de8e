// Per-image score kinds and the robust aggregates of per-patch errors (docs/ARCHITECTURE.md §5.3,
// measured in §8): a local trigger raises the error of a few patches, a backdoor's loss of content
// raises all of them, so an order statistic of the patch errors is far more specific than the sum.
// Pure functions, shared by the scorer and the calibration.

import { checkContentScale, type ContentScale } from './content-score';

/** How the product's per-image `score` is made from the masked patches' errors. */
export type RobustAggregate =
  | { readonly kind: 'median' }
  /** Mean after dropping ⌊trim·n⌋ values at each end; trim in [0, 0.5). */
  | { readonly kind: 'trimmedMean'; readonly trim: number };

/**
 * Which score a threshold was fitted on: the median patch error (by its aggregate), the paper's, or
 * the content score (content-score.ts) with the clean scale its components were put on.
 */
export type ScoreKind = RobustAggregate | { readonly kind: 'dedeScore' } | { readonly kind: 'content'; readonly scale: ContentScale };

export const DEFAULT_AGGREGATE: RobustAggregate = Object.freeze({ kind: 'median' });

/** Short stable label, e.g. for reports and CSV headers: "median", "trimmedMean(0.1)", "dedeScore". */
export function scoreKindLabel(kind: ScoreKind): string {
  return kind.kind === 'trimmedMean' ? `trimmedMean(${kind.trim})` : kind.kind;
}

/** Throws unless `kind` is a well-formed ScoreKind (used when reading JSON and settings). */
export function checkScoreKind(kind: ScoreKind): void {
  switch (kind.kind) {
    case 'median':
    case 'dedeScore':
      return;
    case 'content':
      checkContentScale(kind.scale);
      return;
    case 'trimmedMean':
      if (!(kind.trim >= 0 && kind.trim < 0.5)) throw new Error(`trimmedMean: trim must be in [0, 0.5), got ${kind.trim}`);
      return;
    default:
      throw new Error(`unknown score kind ${JSON.stringify((kind as { kind: unknown }).kind)}`);
  }
}

/** Ascending copy without NaNs (NaN marks a patch that was never masked, hence never scored). */
function sortedFinite(values: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isNaN(v)) out.push(v);
  }
  return Float64Array.from(out).sort();
}

/** Median (mean of the two middle values for an even count); NaN values are skipped. */
export function median(values: ArrayLike<number>): number {
  const s = sortedFinite(values);
  const n = s.length;
  if (n === 0) throw new Error('median of no values');
  const mid = n >> 1;
  return n % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Mean of the values left after dropping ⌊trim·n⌋ from each end; NaN values are skipped. */
export function trimmedMean(values: ArrayLike<number>, trim: number): number {
  if (!(trim >= 0 && trim < 0.5)) throw new Error(`trimmedMean: trim must be in [0, 0.5), got ${trim}`);
  const s = sortedFinite(values);
  if (s.length === 0) throw new Error('trimmed mean of no values');
  const cut = Math.floor(trim * s.length);
  let sum = 0;
  for (let i = cut; i < s.length - cut; i++) sum += s[i] as number;
  return sum / (s.length - 2 * cut);
}

export function aggregatePatchErrors(errors: ArrayLike<number>, agg: RobustAggregate): number {
  return agg.kind === 'median' ? median(errors) : trimmedMean(errors, agg.trim);
}
