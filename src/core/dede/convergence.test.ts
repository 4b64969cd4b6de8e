import { describe, expect, it } from 'vitest';
import { checkConvergence, checkRule, convergenceText, heldBackPoint, relativeMove, type HeldBackPoint } from './convergence';

const points = (losses: readonly number[], quantiles: readonly number[] = losses.map((l) => 2 * l)): HeldBackPoint[] =>
  losses.map((loss, i) => ({ epoch: i + 1, loss, quantile: quantiles[i]! }));

describe('relativeMove', () => {
  it('is the spread of the last window + 1 values over the last one', () => {
    expect(relativeMove([10, 5, 4, 4.1, 3.9], 2)).toBeCloseTo((4.1 - 3.9) / 3.9, 12);
    expect(relativeMove([10, 5, 4, 4.1, 3.9], 4)).toBeCloseTo((10 - 3.9) / 3.9, 12);
    expect(relativeMove([1, 2], 2)).toBe(Infinity);
    expect(relativeMove([0, 0, 0], 2)).toBe(0);
  });
});

describe('checkConvergence', () => {
  const rule = { window: 3, tolerance: 0.02, minEpochs: 5 };

  it('stops once both series stay within the tolerance over the window', () => {
    // Loss: 1, 0.5, 0.3, 0.25, 0.2, 0.199, 0.198, 0.1975 → the last 4 move (0.2 − 0.1975)/0.1975 = 1.27%.
    const losses = [1, 0.5, 0.3, 0.25, 0.2, 0.199, 0.198, 0.1975];
    expect(checkConvergence(points(losses.slice(0, 7)), rule).converged).toBe(false); // 0.25 is in the window
    const c = checkConvergence(points(losses), rule);
    expect(c.converged).toBe(true);
    expect(c.lossMove).toBeCloseTo((0.2 - 0.1975) / 0.1975, 12);
  });

  it('waits for the 95th percentile too', () => {
    const losses = [1, 0.5, 0.3, 0.25, 0.2, 0.199, 0.198, 0.1975];
    const quantiles = [2, 1, 0.6, 0.5, 0.4, 0.39, 0.37, 0.35];
    const c = checkConvergence(points(losses, quantiles), rule);
    expect(c.converged).toBe(false);
    expect(c.quantileMove).toBeCloseTo((0.4 - 0.35) / 0.35, 12);
  });

  it('never stops before the minimum epochs', () => {
    expect(checkConvergence(points([1, 1, 1, 1]), rule)).toMatchObject({ converged: false, lossMove: 0 });
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
    expect(convergenceText(17, { window: 5, tolerance: 0.02, minEpochs: 10 })).toBe('converged at epoch 17: the held-back loss and its 95th percentile moved less than 2% over the last 5 epochs');
  });
});
