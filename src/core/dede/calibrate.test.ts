import { describe, expect, it } from 'vitest';
import { calibrate, calibrationFromJSON, calibrationToJSON, conformalRank, isFlagged, minCleanScores, pValue, pValues, rankingPValues, realisedFpr, splitCalibration } from './calibrate';
import { mulberry32, normal } from './rng';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1); // 1..n

describe('sigma threshold', () => {
  it('is μ + kσ with the sample standard deviation', () => {
    const cal = calibrate([2, 4, 4, 4, 5, 5, 7, 9], { method: 'sigma', k: 2 });
    const std = Math.sqrt(32 / 7); // Σ(x−5)² = 32, n − 1 = 7
    expect(cal.mean).toBe(5);
    expect(cal.std).toBeCloseTo(std, 14);
    expect(cal.threshold).toBeCloseTo(5 + 2 * std, 14);
    expect(cal.n).toBe(8);
    expect(cal.scoreKind).toEqual({ kind: 'median' });
  });
});

describe('target false-positive rate', () => {
  it('takes the ⌈(n+1)(1−α)⌉-th smallest clean score', () => {
    // n = 19, α = 0.05: k = ⌈20 · 0.95⌉ = 19 → τ = the largest score
    expect(conformalRank(19, 0.05)).toBe(19);
    expect(calibrate(range(19), { method: 'fpr', target: 0.05 }).threshold).toBe(19);
    // n = 99, α = 0.1: k = ⌈100 · 0.9⌉ = 90
    expect(calibrate(range(99), { method: 'fpr', target: 0.1 }).threshold).toBe(90);
    // n = 100, α = 0.1: k = ⌈101 · 0.9⌉ = ⌈90.9⌉ = 91
    expect(calibrate(range(100), { method: 'fpr', target: 0.1 }).threshold).toBe(91);
    // float trap: 100 · 0.29 = 28.999999999999996 in doubles; k = 100 − 29 = 71
    expect(conformalRank(99, 0.29)).toBe(71);
  });

  it('needs ⌈1/α⌉ − 1 clean scores', () => {
    expect(minCleanScores(0.05)).toBe(19);
    expect(minCleanScores(0.1)).toBe(9);
    expect(minCleanScores(0.3)).toBe(3); // ⌊4 · 0.3⌋ = 1
    expect(() => calibrate(range(18), { method: 'fpr', target: 0.05 })).toThrow(/needs at least 19 clean images, got 18/);
  });

  it('flags exactly the scores whose conformal p-value is ≤ α, ties included', () => {
    const rng = mulberry32(9);
    for (let trial = 0; trial < 40; trial++) {
      const n = 20 + Math.floor(rng() * 80);
      const alpha = 0.02 + rng() * 0.3;
      const clean = Array.from({ length: n }, () => Math.floor(rng() * 12)); // many ties
      const cal = calibrate(clean, { method: 'fpr', target: alpha });
      for (let s = -1; s <= 13; s += 0.5) expect(isFlagged(s, cal), `n ${n} α ${alpha} s ${s}`).toBe(pValue(s, clean) <= alpha + 1e-12);
    }
  });

  it('keeps the false-positive rate ≤ α in expectation on fresh clean data', () => {
    const rng = mulberry32(3);
    const alpha = 0.1;
    let fp = 0;
    let total = 0;
    for (let trial = 0; trial < 400; trial++) {
      const cal = calibrate(Array.from({ length: 29 }, () => normal(rng)), { method: 'fpr', target: alpha });
      for (let i = 0; i < 25; i++, total++) if (isFlagged(normal(rng), cal)) fp++;
    }
    // Exact expectation ⌊30 · 0.1⌋ / 30 = 0.1; 10,000 draws give a standard error of ~0.003.
    expect(fp / total).toBeGreaterThan(0.085);
    expect(fp / total).toBeLessThan(0.115);
  });
});

describe('ranking p-values', () => {
  it('equal the conformal ones above the floor and keep ordering beyond the largest clean score', () => {
    const cal = calibrate([1, 2, 3, 4, 5, 6, 7, 8, 9], { method: 'fpr', target: 0.2 });
    const scores = [0, 5, 9, 9.5, 10, 20, 1e6];
    const conformal = pValues(scores, cal);
    const ranking = rankingPValues(scores, cal);
    for (let i = 0; i < 3; i++) expect(ranking[i]).toBe(conformal[i]);
    // 9.5 onwards: beyond the maximum 9, below the floor 1/10 and strictly decreasing.
    for (let i = 3; i < scores.length; i++) {
      expect(conformal[i]).toBe(0.1);
      expect(ranking[i]).toBeLessThan(i === 3 ? 0.1 : ranking[i - 1]!);
      expect(ranking[i]).toBeGreaterThan(0);
    }
    // floor · exp(−(s − max)/σ), σ the population standard deviation of 1..9.
    expect(ranking[4]).toBeCloseTo(0.1 * Math.exp(-1 / Math.sqrt(60 / 9)), 12);
  });
});

describe('p-values', () => {
  it('is (1 + #{clean ≥ s}) / (n + 1)', () => {
    const clean = [1, 2, 2, 3];
    expect(pValue(3.5, clean)).toBe(1 / 5);
    expect(pValue(3, clean)).toBe(2 / 5);
    expect(pValue(2, clean)).toBe(4 / 5);
    expect(pValue(0, clean)).toBe(1);
  });

  it('batch version agrees with the O(n) one', () => {
    const rng = mulberry32(1);
    const clean = Array.from({ length: 50 }, () => Math.floor(rng() * 10));
    const cal = calibrate(clean, { method: 'sigma', k: 3 });
    const scores = Array.from({ length: 30 }, () => Math.floor(rng() * 12) - 1);
    expect(Array.from(pValues(scores, cal))).toEqual(scores.map((s) => pValue(s, clean)));
  });
});

describe('split calibration', () => {
  it('fits on one part and reports the realised FPR on the held-out part, reproducibly', () => {
    const rng = mulberry32(5);
    const clean = Array.from({ length: 200 }, () => normal(rng));
    const a = splitCalibration(clean, 0.25, 7, { method: 'fpr', target: 0.1 });
    expect(a.calibration.n).toBe(150);
    expect(a.heldOut.n).toBe(50);
    const fit = new Set(a.calibration.cleanScores);
    const held = clean.filter((s) => !fit.has(s));
    expect(held.length).toBe(50);
    expect(a.heldOut).toEqual(realisedFpr(a.calibration, held));
    expect(a.heldOut.fpr).toBe(a.heldOut.falsePositives / 50);
    expect(splitCalibration(clean, 0.25, 7, { method: 'fpr', target: 0.1 })).toEqual(a);
    expect(splitCalibration(clean, 0.25, 8, { method: 'fpr', target: 0.1 }).heldOut).not.toEqual(a.heldOut);
  });

  it('rejects a bad fraction and too few scores', () => {
    expect(() => splitCalibration([1, 2, 3], 0, 1, { method: 'sigma', k: 1 })).toThrow(/hold-out fraction/);
    expect(() => splitCalibration([1, 2], 0.5, 1, { method: 'sigma', k: 1 })).toThrow(/at least 3 clean scores/);
  });
});

describe('calibration JSON', () => {
  const cal = calibrate([0.3, 0.1, 0.25, 0.7, 0.2], { method: 'sigma', k: 1.5 }, { kind: 'trimmedMean', trim: 0.1 });

  it('round-trips exactly', () => {
    const back = calibrationFromJSON(calibrationToJSON(cal));
    expect(back).toEqual(cal);
    expect(back.cleanScores).toEqual([0.1, 0.2, 0.25, 0.3, 0.7]);
  });

  it('is strict', () => {
    const obj = JSON.parse(calibrationToJSON(cal)) as Record<string, unknown>;
    const edit = (patch: Record<string, unknown>): string => JSON.stringify({ ...obj, ...patch });
    expect(() => calibrationFromJSON(edit({ version: 2 }))).toThrow(/unsupported version 2/);
    expect(() => calibrationFromJSON(edit({ threshold: 0.5 }))).toThrow(/threshold 0.5 does not match/);
    expect(() => calibrationFromJSON(edit({ method: { method: 'median' } }))).toThrow(/unknown method "median"/);
    expect(() => calibrationFromJSON(edit({ scoreKind: { kind: 'trimmedMean', trim: 0.7 } }))).toThrow(/trim must be in/);
    expect(() => calibrationFromJSON(edit({ cleanScores: [1, 'x'] }))).toThrow(/cleanScores must be an array of finite numbers/);
    expect(() => calibrationFromJSON(edit({ n: undefined }))).toThrow(/n must be a finite number/);
  });

  it('rejects non-finite clean scores and bad settings', () => {
    expect(() => calibrate([1, NaN, 2], { method: 'sigma', k: 2 })).toThrow(/clean score #1 is NaN/);
    expect(() => calibrate([1, 2], { method: 'fpr', target: 1 })).toThrow(/target false-positive rate must be in \(0, 1\)/);
    expect(() => calibrate([1], { method: 'sigma', k: 2 })).toThrow(/at least 2 clean scores/);
  });
});
