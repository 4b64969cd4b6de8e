// Thresholds fitted on clean images only (docs/ARCHITECTURE.md §5.4); the reference's median of pooled
// scores needs labels, which a user scanning a folder does not have. Pure functions.
//
// Decision rule everywhere: an image is flagged when its score is strictly greater than τ.
//
// Target false-positive rate α (split-conformal rule): with n clean scores sorted ascending
// s(1) ≤ … ≤ s(n), τ = s(k) with k = ⌈(n+1)(1−α)⌉ = n + 1 − ⌊(n+1)α⌋. For a new clean score that
// is exchangeable with the calibration scores, P(s > τ) = ⌊(n+1)α⌋/(n+1) ≤ α when there are no
// ties (ties only lower it). Equivalently, s > τ ⇔ pValue(s) ≤ α with the conformal p-value
// p(s) = (1 + #{clean ≥ s}) / (n + 1). It needs ⌊(n+1)α⌋ ≥ 1, i.e. n ≥ ⌈1/α⌉ − 1 clean scores.

import { mulberry32, shuffleInPlace } from './rng';
import { checkScoreKind, DEFAULT_AGGREGATE, type ScoreKind } from './scores';

export const CALIBRATION_VERSION = 1;

export type CalibrationMethod =
  /** τ = μ + kσ (σ: sample standard deviation, n − 1 in the denominator). */
  | { readonly method: 'sigma'; readonly k: number }
  /** τ from the clean-score quantile so that the false-positive rate is ≤ target (see above). */
  | { readonly method: 'fpr'; readonly target: number };

/** A fitted threshold; plain data, JSON round-trips through calibrationToJSON/FromJSON. */
export interface Calibration {
  readonly version: typeof CALIBRATION_VERSION;
  readonly method: CalibrationMethod;
  readonly scoreKind: ScoreKind;
  /** τ: flag when score > τ. */
  readonly threshold: number;
  readonly mean: number;
  readonly std: number;
  readonly n: number;
  /** The clean scores, ascending: p-values of new images need them. */
  readonly cleanScores: readonly number[];
}

export interface HeldOutReport {
  readonly n: number;
  readonly falsePositives: number;
  /** Realised false-positive rate on clean images the threshold never saw. */
  readonly fpr: number;
}

export interface SplitCalibration {
  readonly calibration: Calibration;
  readonly heldOut: HeldOutReport;
}

// Guards ⌊(n+1)α⌋ against float error, e.g. 100 · 0.29 = 28.999999999999996.
const FLOOR_EPS = 1e-9;

function sortedCleanScores(scores: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (!Number.isFinite(s)) throw new Error(`calibration: clean score #${i} is ${s}; scores must be finite`);
    out.push(s);
  }
  return out.sort((a, b) => a - b);
}

function meanAndStd(sorted: readonly number[]): { mean: number; std: number } {
  const n = sorted.length;
  const mean = sorted.reduce((a, s) => a + s, 0) / n;
  const ss = sorted.reduce((a, s) => a + (s - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}

/** ⌊(n+1)α⌋: how many of the n+1 ranks lie above τ. */
function ranksAbove(n: number, alpha: number): number {
  return Math.floor((n + 1) * alpha + FLOOR_EPS);
}

/** The 1-based rank k of τ among n sorted clean scores for target FPR α. */
export function conformalRank(n: number, alpha: number): number {
  checkTarget(alpha);
  const above = ranksAbove(n, alpha);
  if (above < 1) throw new Error(`calibration: a false-positive rate of ${alpha} needs at least ${minCleanScores(alpha)} clean images, got ${n}`);
  return n + 1 - above;
}

/** Fewest clean scores for which target FPR α gives a finite threshold. */
export function minCleanScores(alpha: number): number {
  checkTarget(alpha);
  let n = Math.max(0, Math.ceil(1 / alpha) - 2);
  while (ranksAbove(n, alpha) < 1) n++;
  return n;
}

function checkTarget(alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`calibration: target false-positive rate must be in (0, 1), got ${alpha}`);
}

function checkMethod(m: CalibrationMethod): void {
  if (m.method === 'sigma') {
    if (!Number.isFinite(m.k)) throw new Error(`calibration: k must be a finite number, got ${m.k}`);
  } else if (m.method === 'fpr') checkTarget(m.target);
  else throw new Error(`calibration: unknown method ${JSON.stringify((m as { method: unknown }).method)}`);
}

export function calibrate(cleanScores: ArrayLike<number>, method: CalibrationMethod, scoreKind: ScoreKind = DEFAULT_AGGREGATE): Calibration {
  checkMethod(method);
  checkScoreKind(scoreKind);
  const sorted = sortedCleanScores(cleanScores);
  const n = sorted.length;
  if (n < 2) throw new Error(`calibration: need at least 2 clean scores, got ${n}`);
  const { mean, std } = meanAndStd(sorted);
  const threshold = method.method === 'sigma' ? mean + method.k * std : (sorted[conformalRank(n, method.target) - 1] as number);
  return { version: CALIBRATION_VERSION, method: { ...method }, scoreKind: { ...scoreKind }, threshold, mean, std, n, cleanScores: sorted };
}

export function isFlagged(score: number, cal: Pick<Calibration, 'threshold'>): boolean {
  return score > cal.threshold;
}

/** Number of values in ascending `sorted` that are ≥ s (binary search). */
function countAtLeast(sorted: readonly number[], s: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < s) lo = mid + 1;
    else hi = mid;
  }
  return sorted.length - lo;
}

/** Conformal p-value (1 + #{clean ≥ s}) / (n + 1): small means unlike the clean images. O(n). */
export function pValue(score: number, cleanScores: ArrayLike<number>): number {
  let atLeast = 0;
  for (let i = 0; i < cleanScores.length; i++) if ((cleanScores[i] as number) >= score) atLeast++;
  return (1 + atLeast) / (cleanScores.length + 1);
}

/** pValue for many scores against a calibration's sorted clean scores, O(m log n). */
export function pValues(scores: ArrayLike<number>, cal: Pick<Calibration, 'cleanScores'>): Float64Array {
  const n = cal.cleanScores.length;
  return Float64Array.from({ length: scores.length }, (_, i) => (1 + countAtLeast(cal.cleanScores, scores[i] as number)) / (n + 1));
}

/**
 * For ranking only: the conformal p-value, except beyond the largest clean score, where its floor
 * 1/(n + 1) is continued as floor · exp(−(s − max)/σ) (σ = the clean scores' standard deviation), so
 * that images beyond every clean image keep their order by how far beyond they lie instead of all
 * tying at the floor. Equal to the conformal p-value wherever that is above its floor, and never
 * larger: a decision taken on pValues is unchanged, only the order among floor images is refined.
 * `cleanScores` must be sorted ascending (Calibration.cleanScores is); `conformal`, when given, is
 * pValues(scores, cal) already computed.
 */
export function rankingPValues(scores: ArrayLike<number>, cal: Pick<Calibration, 'cleanScores'>, conformal: ArrayLike<number> = pValues(scores, cal)): Float64Array {
  const sorted = cal.cleanScores;
  const n = sorted.length;
  const p = Float64Array.from(conformal);
  if (n === 0) return p;
  const max = sorted[n - 1] as number;
  const mean = sorted.reduce((a, x) => a + x, 0) / n;
  const sd = Math.sqrt(sorted.reduce((a, x) => a + (x - mean) ** 2, 0) / n);
  if (!(sd > 0)) return p;
  for (let i = 0; i < p.length; i++) {
    const excess = ((scores[i] as number) - max) / sd;
    // Never underflows to 0: p-values must stay in (0, 1] for the fusion.
    if (excess > 0) p[i] = Math.max(Number.MIN_VALUE, (p[i] as number) * Math.exp(-excess));
  }
  return p;
}

export function realisedFpr(cal: Pick<Calibration, 'threshold'>, cleanScores: ArrayLike<number>): HeldOutReport {
  let falsePositives = 0;
  for (let i = 0; i < cleanScores.length; i++) if (isFlagged(cleanScores[i] as number, cal)) falsePositives++;
  const n = cleanScores.length;
  return { n, falsePositives, fpr: n > 0 ? falsePositives / n : NaN };
}

/**
 * Shuffles the clean scores with `seed`, holds out round(n·holdOutFraction) of them (at least 1,
 * leaving at least 2 to fit on), fits on the rest and reports the realised FPR on the held-out part.
 */
export function splitCalibration(cleanScores: ArrayLike<number>, holdOutFraction: number, seed: number, method: CalibrationMethod, scoreKind: ScoreKind = DEFAULT_AGGREGATE): SplitCalibration {
  if (!(holdOutFraction > 0 && holdOutFraction < 1)) throw new Error(`calibration: hold-out fraction must be in (0, 1), got ${holdOutFraction}`);
  const shuffled = Array.from(cleanScores);
  shuffleInPlace(shuffled, mulberry32(seed));
  const n = shuffled.length;
  const held = Math.min(n - 2, Math.max(1, Math.round(n * holdOutFraction)));
  if (held < 1) throw new Error(`calibration: need at least 3 clean scores to hold some out, got ${n}`);
  const calibration = calibrate(shuffled.slice(held), method, scoreKind);
  return { calibration, heldOut: realisedFpr(calibration, shuffled.slice(0, held)) };
}

// ---- JSON -------------------------------------------------------------------------------------

export function calibrationToJSON(cal: Calibration): string {
  return JSON.stringify(cal);
}

/** Strict reader: unknown version, missing or mistyped fields, or an inconsistent record throw. */
export function calibrationFromJSON(text: string): Calibration {
  const raw = JSON.parse(text) as unknown;
  if (typeof raw !== 'object' || raw === null) throw new Error('calibration JSON must be an object');
  const o = raw as Record<string, unknown>;
  if (o.version !== CALIBRATION_VERSION) throw new Error(`calibration: unsupported version ${JSON.stringify(o.version ?? null)}; this version reads ${CALIBRATION_VERSION}`);
  const num = (key: string): number => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`calibration: ${key} must be a finite number, got ${JSON.stringify(v)}`);
    return v;
  };
  const clean = o.cleanScores;
  if (!Array.isArray(clean) || !clean.every((s): s is number => typeof s === 'number' && Number.isFinite(s))) throw new Error('calibration: cleanScores must be an array of finite numbers');
  const method = o.method as CalibrationMethod;
  const scoreKind = o.scoreKind as ScoreKind;
  if (typeof method !== 'object' || method === null) throw new Error('calibration: method is missing');
  if (typeof scoreKind !== 'object' || scoreKind === null) throw new Error('calibration: scoreKind is missing');
  checkMethod(method);
  checkScoreKind(scoreKind);
  // Refit and compare: a hand-edited τ or score list would otherwise go unnoticed.
  const refit = calibrate(clean, method, scoreKind);
  for (const key of ['threshold', 'mean', 'std', 'n'] as const) {
    if (num(key) !== refit[key]) throw new Error(`calibration: ${key} ${num(key)} does not match its clean scores (${refit[key]})`);
  }
  return refit;
}
