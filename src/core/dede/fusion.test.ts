import { describe, expect, it } from 'vitest';
import { chiSquareLogSurvivalEven, chiSquareSurvivalEven, combinePValues, componentReach, flaggedAt, fusePValues, type FusionOptions } from './fusion';
import { auroc } from './metrics';
import { mulberry32 } from './rng';

/** Conformal-style p-values of m independent uniform draws (floor 1/(M+1), like the real ones). */
function uniformP(rng: () => number, n: number, M = 10_000): Float64Array {
  return Float64Array.from({ length: n }, () => (1 + Math.floor(rng() * (M + 1))) / (M + 1));
}

function realisedFpr(p: ArrayLike<number>, alpha: number): number {
  let hits = 0;
  for (let i = 0; i < p.length; i++) if (flaggedAt(p[i] as number, alpha)) hits++;
  return hits / p.length;
}

describe('χ² survival function (even dof)', () => {
  it('matches closed forms and table values', () => {
    for (const x of [0.1, 1, 5, 20]) {
      expect(chiSquareSurvivalEven(x, 2)).toBeCloseTo(Math.exp(-x / 2), 14);
      expect(chiSquareSurvivalEven(x, 4)).toBeCloseTo(Math.exp(-x / 2) * (1 + x / 2), 14);
    }
    // Upper 5% and 1% points of χ²(4), χ²(6), χ²(10) (standard tables).
    expect(chiSquareSurvivalEven(9.487729, 4)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvivalEven(13.276704, 4)).toBeCloseTo(0.01, 6);
    expect(chiSquareSurvivalEven(12.591587, 6)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvivalEven(18.307038, 10)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvivalEven(0, 4)).toBe(1);
  });

  it('stays finite in log space where the survival underflows', () => {
    const logSf = chiSquareLogSurvivalEven(4000, 4);
    expect(Number.isFinite(logSf)).toBe(true);
    expect(logSf).toBeCloseTo(-2000 + Math.log(2001), 9);
    expect(chiSquareSurvivalEven(4000, 4)).toBe(0);
    expect(() => chiSquareSurvivalEven(1, 3)).toThrow(/even/);
  });
});

describe('combining p-values', () => {
  it('Bonferroni is m · min p capped at 1; Fisher is the χ²(2m) tail of −2 Σ ln p', () => {
    expect(combinePValues([0.01, 0.5])).toBeCloseTo(0.02, 15);
    expect(combinePValues([0.7, 0.9])).toBe(1);
    expect(combinePValues([1, 1], { method: 'fisher' })).toBe(1);
    // Weighted: p_j / w_j, weights normalised.
    expect(combinePValues([0.01, 0.5], { weights: [3, 1] })).toBeCloseTo(0.01 / 0.75, 15);
    expect(combinePValues([0.3, 0.01], { weights: [0.75, 0.25] })).toBeCloseTo(0.04, 15);
    expect(() => combinePValues([0.3, 0.01], { weights: [1, 0] })).toThrow(/positive/);
    expect(() => combinePValues([0.3, 0.01], { method: 'fisher', weights: [1, 1] })).toThrow(/Bonferroni only/);
    const x = -2 * (Math.log(0.01) + Math.log(0.5));
    expect(combinePValues([0.01, 0.5], { method: 'fisher' })).toBeCloseTo(Math.exp(-x / 2) * (1 + x / 2), 14);
    expect(() => combinePValues([0, 0.5])).toThrow(/\(0, 1\]/);
    expect(() => combinePValues([Number.NaN, 0.5])).toThrow(/\(0, 1\]/);
    expect(() => combinePValues([1.2])).toThrow(/\(0, 1\]/);
  });

  it('fusedScore is −log10 of the uncapped p: monotone, ties stay ties, p = 1 is fine', () => {
    const { fusedP, fusedScore } = fusePValues([Float64Array.from([0.01, 0.01, 1, 0.6]), Float64Array.from([0.3, 0.9, 1, 0.8])]);
    expect(Array.from(fusedP)).toEqual([0.02, 0.02, 1, 1]);
    expect(fusedScore[0]).toBeCloseTo(-Math.log10(0.02), 12);
    expect(fusedScore[0]).toBe(fusedScore[1]);
    // Capped p-values still rank by their uncapped value.
    expect(fusedScore[2]).toBeCloseTo(-Math.log10(2), 12);
    expect(fusedScore[3]).toBeGreaterThan(fusedScore[2] as number);
    expect(() => fusePValues([new Float64Array(3), new Float64Array(2)])).toThrow(/expected 3/);
  });

  it('flags exactly on the threshold despite rounding in m · p', () => {
    // 0.1 · 3 = 0.30000000000000004 in floating point.
    expect(flaggedAt(combinePValues([0.1, 0.5, 0.7]), 0.3)).toBe(true);
    expect(flaggedAt(0.3000001, 0.3)).toBe(false);
  });
});

describe('calibration under the null: one threshold at the target FPR', () => {
  const n = 200_000;
  for (const alpha of [0.01, 0.05]) {
    it(`independent uniform components: realised FPR ≈ ${alpha} (Bonferroni and Fisher)`, () => {
      const rng = mulberry32(7);
      const comps = [uniformP(rng, n), uniformP(rng, n)];
      const bonf = realisedFpr(fusePValues(comps, { method: 'bonferroni' }).fusedP, alpha);
      const fisher = realisedFpr(fusePValues(comps, { method: 'fisher' }).fusedP, alpha);
      const sd = Math.sqrt((alpha * (1 - alpha)) / n);
      // Bonferroni's exact null rate for two independent uniforms: 1 − (1 − α/2)².
      expect(Math.abs(bonf - (1 - (1 - alpha / 2) ** 2))).toBeLessThan(4 * sd);
      expect(bonf).toBeLessThanOrEqual(alpha + 4 * sd);
      expect(Math.abs(fisher - alpha)).toBeLessThan(4 * sd);
    });
  }

  it('dependent components: Bonferroni stays ≤ α, Fisher does not (why Bonferroni is the default)', () => {
    const rng = mulberry32(8);
    const alpha = 0.05;
    const u = uniformP(rng, n);
    // Identical p-values: the extreme of positive dependence.
    expect(realisedFpr(fusePValues([u, u]).fusedP, alpha)).toBeLessThanOrEqual(alpha);
    expect(realisedFpr(fusePValues([u, u], { method: 'fisher' }).fusedP, alpha)).toBeGreaterThan(1.7 * alpha);
    // Perfectly negative dependence (p2 = 1 − p1 + floor): Bonferroni reaches α exactly, never more.
    const v = u.map((p) => Math.min(1, 1 - p + 1 / 10_001));
    expect(realisedFpr(fusePValues([u, v]).fusedP, alpha)).toBeLessThanOrEqual(alpha + 1e-3);
  });
});

describe('a strong single component still flags', () => {
  it('at the conformal floor, whatever the other component says (single image, global trigger)', () => {
    const M = 1000;
    const floor = 1 / (M + 1);
    for (const other of [0.5, 1]) {
      expect(flaggedAt(combinePValues([floor, other]), 0.01)).toBe(true);
      expect(flaggedAt(combinePValues([other, floor], { weights: [0.75, 0.25] }), 0.01)).toBe(true);
      // Fisher dilutes it with the other component: a larger fused p-value.
      expect(combinePValues([floor, other], { method: 'fisher' })).toBeGreaterThan(combinePValues([floor, other]));
    }
    expect(componentReach([M, M])).toEqual([2 / 1001, 2 / 1001]);
    // 49 clean scores: floor 0.02, so that component alone can never flag at 1%.
    expect(componentReach([49, 1000]).map((r) => flaggedAt(r, 0.01))).toEqual([false, true]);
  });

  it('ranks a one-component signal nearly as well as that component alone (Bonferroni ≥ Fisher)', () => {
    // 2,000 clean images (both components uniform) and 40 positives whose first component is
    // strong while the second is uninformative (uniform) or anti-informative (large).
    const rng = mulberry32(11);
    const nClean = 2000;
    const nPos = 40;
    const p1 = Float64Array.from([...uniformP(rng, nClean), ...Array.from({ length: nPos }, () => Math.max(1 / 10_001, 0.02 * rng()))]);
    const labels = Array.from({ length: nClean + nPos }, (_, i) => i >= nClean);
    const alone = auroc(p1.map((p) => -p), labels);
    const tprAlone = p1.filter((p, i) => labels[i] && p <= 0.05).length / nPos;
    const noise = uniformP(rng, nClean + nPos);
    const anti = Float64Array.from({ length: nClean + nPos }, (_, i) => (i >= nClean ? 0.5 + 0.5 * rng() : (noise[i] as number)));
    for (const p2 of [noise, anti]) {
      const score = (opts: FusionOptions): number => auroc(fusePValues([p1, p2], opts).fusedScore, labels);
      const tpr = (opts: FusionOptions): number => fusePValues([p1, p2], opts).fusedP.filter((p, i) => labels[i] && flaggedAt(p, 0.05)).length / nPos;
      expect(score({})).toBeGreaterThan(alone - 0.03);
      expect(score({})).toBeGreaterThanOrEqual(score({ method: 'fisher' }));
      // Giving the graded component the larger share of α keeps it closer to its own power.
      expect(score({ weights: [0.75, 0.25] })).toBeGreaterThanOrEqual(score({}));
      expect(score({ weights: [0.75, 0.25] })).toBeGreaterThan(alone - 0.015);
      expect(tpr({ weights: [0.75, 0.25] })).toBeGreaterThanOrEqual(tprAlone);
    }
  });
});
