// One verdict from several calibrated p-values per image (the per-image DeDe score and the set-level
// collapse score), so that ONE threshold at the user's target FPR α applies: flag iff fusedP ≤ α.
//
// Choice: min-p with (weighted) Bonferroni, fusedP = min(1, min_j p_j / w_j) with Σ w_j = 1 (equal
// weights: m · min p) is the default; Fisher is kept as an option for measurements. Why Bonferroni:
// - It is valid under ANY dependence between the components: P(m · min p ≤ α) ≤ Σ P(p_j ≤ α/m) = α.
//   Our components are not independent (both are functions of the same embedding); Fisher assumes
//   independence and is anti-conservative under positive dependence (identical p-values give a
//   realised FPR ≈ 2α at α = 5%; see the tests).
// - One strong component is enough. A backdoor can show in only one of them: a single triggered
//   image (no collapse partner), or a global trigger that defeats the DeDe score
//   (docs/ARCHITECTURE.md §8.2: blended noise AUROC 0.42, so its p-value is large, not small).
//   Bonferroni costs that component a factor m = 2; Fisher dilutes it with the other's noise and,
//   with conformal p-values whose floor is 1/(M+1), costs a factor ≈ 1 + ln(M+1) (≈ 8 for
//   M = 1,000).
// - Under independence it is nearly exact: realised FPR 1 − (1 − α/m)^m (4.94% at α = 5%, m = 2),
//   and never above α; with positively dependent components it only gets more conservative.
// - Weights (fixed before seeing any p-value) split α between the components, P ≤ Σ w_j α = α still:
//   a component whose positives sit at the p-value floor (the collapse score) needs only a small
//   share, leaving a graded one (the DeDe score) closer to its stand-alone power (set-scan.ts).
// Fisher (−2 Σ ln p_j ~ χ²(2m) under independent uniform nulls) is more powerful when every
// component carries moderate evidence; its survival function is exact for even dof.
//
// Conventions: p-values must lie in (0, 1] (conformal p-values never reach 0); p = 1 is fine.
// fusedScore = −log10 of the combined p-value BEFORE capping at 1, computed in log space: higher is
// more suspicious, it keeps ranking among unremarkable images and never underflows. Images that
// tie on fusedP tie on fusedScore; AUROC (metrics.ts) counts ties as one half.

export type FusionMethod = 'bonferroni' | 'fisher';

export const DEFAULT_FUSION: FusionMethod = 'bonferroni';

export interface FusionOptions {
  /** Default DEFAULT_FUSION. */
  readonly method?: FusionMethod;
  /** Bonferroni only: each component's share of α, positive, normalised to sum 1. Default equal. */
  readonly weights?: readonly number[];
}

export interface FusedPValues {
  /** [n] combined p-values in (0, 1]; flag iff fusedP ≤ α. */
  readonly fusedP: Float64Array;
  /** [n] −log10 of the uncapped combined p-value (monotone in fusedP; higher = more suspicious). */
  readonly fusedScore: Float64Array;
}

// Rounding in m · p or in the χ² sum must not unflag an image that sits exactly on α.
const P_EPS = 1e-12;

/** The decision rule for combined (or single) p-values. */
export function flaggedAt(p: number, alpha: number): boolean {
  return p <= alpha * (1 + P_EPS);
}

function checkP(p: number, where: string): void {
  if (!(p > 0 && p <= 1)) throw new Error(`fusion: ${where} is ${p}; p-values must be in (0, 1]`);
}

/**
 * ln P(X > x) for X ~ χ²(dof), dof even: exactly e^{−x/2} Σ_{i<dof/2} (x/2)^i / i!, summed in log
 * space (log-sum-exp) so that large x does not underflow.
 */
export function chiSquareLogSurvivalEven(x: number, dof: number): number {
  if (!Number.isInteger(dof) || dof < 2 || dof % 2 !== 0) throw new Error(`chi-square: dof must be a positive even integer, got ${dof}`);
  if (Number.isNaN(x)) throw new Error('chi-square: x is NaN');
  if (x <= 0) return 0;
  const h = x / 2;
  const logH = Math.log(h);
  const terms: number[] = [];
  let logFact = 0;
  for (let i = 0; i < dof / 2; i++) {
    if (i > 0) logFact += Math.log(i);
    terms.push(i * logH - logFact);
  }
  const top = Math.max(...terms);
  const sum = terms.reduce((acc, t) => acc + Math.exp(t - top), 0);
  return Math.min(0, -h + top + Math.log(sum));
}

export function chiSquareSurvivalEven(x: number, dof: number): number {
  return Math.exp(chiSquareLogSurvivalEven(x, dof));
}

/** Validated method and (Bonferroni) weights summing to 1 for m components. */
function resolve(m: number, opts: FusionOptions): { method: FusionMethod; weights: number[] } {
  const method = opts.method ?? DEFAULT_FUSION;
  if (method !== 'bonferroni' && method !== 'fisher') throw new Error(`fusion: unknown method ${JSON.stringify(method)}`);
  if (opts.weights === undefined) return { method, weights: Array.from({ length: m }, () => 1 / m) };
  if (method === 'fisher') throw new Error('fusion: weights apply to Bonferroni only');
  if (opts.weights.length !== m) throw new Error(`fusion: ${opts.weights.length} weights for ${m} components`);
  if (!opts.weights.every((w) => w > 0 && Number.isFinite(w))) throw new Error(`fusion: weights must be positive, got ${opts.weights.join(', ')}`);
  const total = opts.weights.reduce((a, w) => a + w, 0);
  return { method, weights: opts.weights.map((w) => w / total) };
}

/**
 * ln of the combined p-value, uncapped (Bonferroni's can exceed 0), and the capped value itself.
 * Bonferroni's value is computed directly (m · p stays exact where the log round trip would not).
 */
function combine(ps: readonly number[], method: FusionMethod, weights: readonly number[]): { logP: number; p: number } {
  if (method === 'bonferroni') {
    let ratio = Infinity;
    ps.forEach((p, j) => {
      ratio = Math.min(ratio, p / (weights[j] as number));
    });
    return { logP: Math.log(ratio), p: Math.min(1, ratio) };
  }
  const logP = chiSquareLogSurvivalEven(-2 * ps.reduce((acc, p) => acc + Math.log(p), 0), 2 * ps.length);
  return { logP, p: Math.exp(logP) };
}

/** The combined p-value of one image's component p-values. */
export function combinePValues(ps: readonly number[], opts: FusionOptions = {}): number {
  if (ps.length === 0) throw new Error('fusion: no p-values to combine');
  ps.forEach((p, j) => checkP(p, `p-value #${j}`));
  const { method, weights } = resolve(ps.length, opts);
  return combine(ps, method, weights).p;
}

/**
 * Fuses m components of n images each (components[j][i] = image i's p-value for component j).
 * Flag image i iff fusedP[i] ≤ α (flaggedAt): the per-image FPR is ≤ α for Bonferroni under any
 * dependence, and = α for Fisher when the components are independent and uniform under the null.
 */
export function fusePValues(components: readonly ArrayLike<number>[], opts: FusionOptions = {}): FusedPValues {
  if (components.length === 0) throw new Error('fusion: no components');
  const { method, weights } = resolve(components.length, opts);
  const n = (components[0] as ArrayLike<number>).length;
  components.forEach((c, j) => {
    if (c.length !== n) throw new Error(`fusion: component #${j} has ${c.length} p-values, expected ${n}`);
  });
  const fusedP = new Float64Array(n);
  const fusedScore = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ps = components.map((c, j) => {
      const p = c[i] as number;
      checkP(p, `component #${j}, image #${i}`);
      return p;
    });
    const { logP, p } = combine(ps, method, weights);
    fusedP[i] = p;
    fusedScore[i] = -logP / Math.LN10;
  }
  return { fusedP, fusedScore };
}

/**
 * For each component j, the smallest fused p-value it can reach on its own: p_j at its conformal
 * floor 1/(M_j + 1), every other component at 1. If one exceeds α, that component can never flag an
 * image by itself (its clean reference is too small for the target).
 */
export function componentReach(cleanCounts: readonly number[], opts: FusionOptions = {}): number[] {
  return cleanCounts.map((M, j) =>
    combinePValues(
      cleanCounts.map((_, l) => (l === j ? 1 / (M + 1) : 1)),
      opts,
    ),
  );
}
