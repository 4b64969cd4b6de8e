import { describe, expect, it } from 'vitest';
import { auroc, confusionAt, rocCurve, tprAtFpr, trapezoidArea } from './metrics';
import { mulberry32 } from './rng';

/** O(n²) reference: P(pos > neg) + ½ P(pos = neg) over all pairs. */
function pairCountAuroc(scores: readonly number[], labels: readonly boolean[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((p, i) => {
    if (!labels[i]) return;
    scores.forEach((n, j) => {
      if (labels[j]) return;
      pairs++;
      wins += p > n ? 1 : p === n ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe('auroc', () => {
  it('matches hand-computed cases', () => {
    expect(auroc([0.9, 0.8, 0.1, 0.2], [true, true, false, false])).toBe(1);
    expect(auroc([0.1, 0.2, 0.9, 0.8], [true, true, false, false])).toBe(0);
    // pos {3, 1}, neg {2, 0}: pairs 3>2, 3>0, 1<2, 1>0 → 3/4
    expect(auroc([3, 1, 2, 0], [true, true, false, false])).toBe(0.75);
    // all tied → ½
    expect(auroc([5, 5, 5, 5, 5], [true, false, true, false, false])).toBe(0.5);
    // pos {2, 1}, neg {1, 0}: 2>1, 2>0, 1=1 (½), 1>0 → 3.5/4
    expect(auroc([2, 1, 1, 0], [true, true, false, false])).toBe(0.875);
  });

  it('equals the brute-force pair count on random data with many ties', () => {
    const rng = mulberry32(42);
    for (let trial = 0; trial < 30; trial++) {
      const n = 2 + Math.floor(rng() * 200);
      const levels = 1 + Math.floor(rng() * 8); // few distinct values → many ties
      const scores = Array.from({ length: n }, () => Math.floor(rng() * levels) / 4);
      const labels = Array.from({ length: n }, (_, i) => (i < 2 ? i === 0 : rng() < 0.4));
      expect(auroc(scores, labels)).toBeCloseTo(pairCountAuroc(scores, labels), 12);
      expect(trapezoidArea(rocCurve(scores, labels))).toBeCloseTo(pairCountAuroc(scores, labels), 12);
    }
  });

  it('rejects one-class data, NaN scores and length mismatches', () => {
    expect(() => auroc([1, 2], [true, true])).toThrow(/both classes, got 2 positive and 0 negative/);
    expect(() => auroc([1, NaN], [true, false])).toThrow(/score #1 is NaN/);
    expect(() => auroc([1, 2, 3], [true, false])).toThrow(/3 scores but 2 labels/);
  });
});

describe('tprAtFpr', () => {
  it('is the ROC height at a realised FPR, with tied scores entering together', () => {
    // descending: p10 n9 p8 p7 n6 {p5 n5} n4 — 4 positives, 4 negatives
    const scores = [10, 9, 8, 7, 6, 5, 5, 4];
    const labels = [true, false, true, true, false, true, false, false];
    expect(tprAtFpr(scores, labels, 0)).toMatchObject({ threshold: 10, tp: 1, fp: 0 });
    expect(tprAtFpr(scores, labels, 0.25)).toMatchObject({ threshold: 7, tp: 3, fp: 1, tpr: 0.75 });
    expect(tprAtFpr(scores, labels, 0.5)).toMatchObject({ threshold: 6, tp: 3, fp: 2 }); // the tie at 5 would add a third FP
    expect(tprAtFpr(scores, labels, 0.75)).toMatchObject({ threshold: 5, tp: 4, fp: 3, tpr: 1 });
    expect(tprAtFpr([1, 2], [true, false], 0)).toMatchObject({ threshold: Infinity, tpr: 0 });
    expect(() => tprAtFpr(scores, labels, 1.5)).toThrow(/maxFpr/);
  });
});

describe('rocCurve', () => {
  it('has one point per distinct score, descending, from (0,0) to (1,1)', () => {
    const pts = rocCurve([0.9, 0.5, 0.5, 0.1, 0.5], [true, true, false, false, true]);
    expect(pts.map((p) => [p.threshold, p.tp, p.fp])).toEqual([
      [Infinity, 0, 0],
      [0.9, 1, 0],
      [0.5, 3, 1],
      [0.1, 3, 2],
    ]);
    expect(pts.map((p) => [p.tpr, p.fpr])).toEqual([[0, 0], [1 / 3, 0], [1, 0.5], [1, 1]]);
    // pairs: 0.9 beats both; each 0.5 positive ties the 0.5 negative and beats 0.1 → (2 + 1.5 + 1.5)/6
    expect(trapezoidArea(pts)).toBeCloseTo(5 / 6, 15);
    expect(auroc([0.9, 0.5, 0.5, 0.1, 0.5], [true, true, false, false, true])).toBeCloseTo(5 / 6, 15);
  });
});

describe('confusionAt', () => {
  it('flags score > τ and counts each cell', () => {
    const c = confusionAt([0.9, 0.5, 0.5, 0.1, 0.7], [true, true, false, false, false], 0.5);
    expect(c).toEqual({ threshold: 0.5, tp: 1, fp: 1, tn: 2, fn: 1, tpr: 0.5, fpr: 1 / 3, precision: 0.5, accuracy: 0.6 });
  });

  it('gives null rates when their denominator is 0', () => {
    const c = confusionAt([0.1, 0.2], [false, false], 1);
    expect(c.tpr).toBeNull();
    expect(c.precision).toBeNull();
    expect(c.fpr).toBe(0);
  });
});
