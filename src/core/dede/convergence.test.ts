import { describe, expect, it } from 'vitest';
import { checkConvergence, convergenceStatus, checkRule, convergenceText, heldBackPoint, relativeImprovement, type HeldBackPoint } from './convergence';

const points = (losses: readonly number[], quantiles: readonly number[] = losses.map((l) => 2 * l)): HeldBackPoint[] =>
  losses.map((loss, i) => ({ epoch: i + 1, loss, quantile: quantiles[i]! }));

describe('relativeImprovement', () => {
  it('compares the mean of the last window with the mean of the window before', () => {
    // Before: 5, 4 (mean 4.5); last: 4.1, 3.9 (mean 4).
    expect(relativeImprovement([10, 5, 4, 4.1, 3.9], 2)).toBeCloseTo((4.5 - 4) / 4, 12);
    // Worse is negative.
    expect(relativeImprovement([1, 1, 2, 2], 2)).toBeCloseTo(-0.5, 12);
    expect(relativeImprovement([1, 2, 3], 2)).toBe(Infinity);
    expect(relativeImprovement([0, 0, 0, 0], 2)).toBe(0);
  });
});

describe('checkConvergence', () => {
  const rule = { window: 2, tolerance: 0.02, minEpochs: 5 };

  it('stops once neither series improved by the tolerance, window on window; noise does not hold it back', () => {
    // Jittering by ±3% around a flat level from epoch 4: the windows' means agree within 2%.
    const losses = [1, 0.6, 0.45, 0.41, 0.39, 0.405, 0.395];
    // Epoch 6: before = epochs 3–4 (0.43), last = 5–6 (0.3975): 8.2%.
    expect(checkConvergence(points(losses.slice(0, 6)), rule).converged).toBe(false);
    const c = checkConvergence(points(losses), rule);
    // Epoch 7: before = epochs 4–5 (0.4), last = 6–7 (0.4): 0%.
    expect(c.lossGain).toBeCloseTo(0, 12);
    expect(c.converged).toBe(true);
  });

  it('waits for the 95th percentile too', () => {
    const losses = [1, 0.6, 0.45, 0.41, 0.39, 0.405, 0.395];
    const quantiles = [2, 1.2, 0.9, 0.85, 0.8, 0.7, 0.68];
    const c = checkConvergence(points(losses, quantiles), rule);
    expect(c.converged).toBe(false);
    expect(c.quantileGain).toBeCloseTo((0.825 - 0.69) / 0.69, 12);
  });

  it('never stops before the minimum epochs', () => {
    expect(checkConvergence(points([1, 1, 1, 1]), rule)).toMatchObject({ converged: false, lossGain: 0 });
    expect(checkConvergence(points([1, 1, 1, 1, 1]), rule).converged).toBe(true);
  });

  it('checks the rule', () => {
    expect(checkRule(rule)).toEqual([]);
    expect(checkRule({ window: 0, tolerance: 1, minEpochs: 1.5 })).toHaveLength(3);
  });
});

describe('heldBackPoint', () => {
  it('is the mean and the nearest-rank 95th percentile', () => {
    const scores = Array.from({ length: 40 }, (_, i) => 40 - i); // 1..40 in reverse
    expect(heldBackPoint(3, scores)).toEqual({ epoch: 3, loss: 20.5, quantile: 38 });
    expect(heldBackPoint(1, [5])).toEqual({ epoch: 1, loss: 5, quantile: 5 });
    expect(() => heldBackPoint(1, [])).toThrow(/no held-back images/);
  });

  it('says why a run stopped', () => {
    expect(convergenceText(17, { window: 5, tolerance: 0.02, minEpochs: 10 })).toBe('converged at epoch 17: over its last 5 epochs the held-back loss and its 95th percentile improved less than 2% on the 5 before');
  });
});

describe('convergenceStatus', () => {
  const rule = { window: 2, tolerance: 0.05, minEpochs: 5 };
  const pts = (losses: number[], quantiles: number[]) => losses.map((loss, i) => ({ epoch: i + 1, loss, quantile: quantiles[i]! }));
  it('says when the rule starts judging, then how much each series moved window on window', () => {
    expect(convergenceStatus(pts([1, 0.9, 0.8], [2, 1.8, 1.7]), rule)).toBe('Judged from epoch 5: the held-back loss of the last 2 epochs against the 2 before; training stops once it and its 95th percentile improve less than 5%.');
    // Loss: (1 + 0.9)/2 = 0.95 before, (0.8 + 0.7)/2 = 0.75 last: 0.2 / 0.75 = 26.7%. Quantile: 1.9 → 2.0, worse by 5%.
    expect(convergenceStatus(pts([1, 0.9, 0.8, 0.7], [2, 1.8, 2, 2]), rule)).toBe('Over the last 2 epochs the held-back loss improved 26.7% and its 95th percentile worsened 5.0% on the 2 before; training stops once both improve less than 5% (from epoch 5).');
    expect(convergenceStatus(pts([1, 0.9, 0.8, 0.7, 0.7], [2, 1.8, 2, 2, 2]), rule)).toMatch(/stops once both improve less than 5%\.$/);
  });
});
