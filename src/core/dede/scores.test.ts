import { describe, expect, it } from 'vitest';
import { aggregatePatchErrors, checkScoreKind, median, scoreKindLabel, trimmedMean, type ScoreKind } from './scores';

describe('robust aggregates', () => {
  it('median of odd and even counts, skipping NaN (never-masked patches)', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN, 5, 1, NaN, 3])).toBe(3);
    expect(() => median([NaN])).toThrow(/no values/);
  });

  it('trimmed mean drops ⌊trim·n⌋ values at each end', () => {
    expect(trimmedMean([1, 2, 3, 4, 100], 0.2)).toBe(3); // drops 1 and 100
    expect(trimmedMean([1, 2, 3, 4, 100], 0.1)).toBe(22); // ⌊0.5⌋ = 0: plain mean
    expect(trimmedMean([1, 2, 3, 4], 0)).toBe(2.5);
    expect(() => trimmedMean([1], 0.5)).toThrow(/trim must be in \[0, 0\.5\)/);
  });

  it('dispatches on the aggregate and labels score kinds', () => {
    expect(aggregatePatchErrors([1, 9, 2], { kind: 'median' })).toBe(2);
    expect(aggregatePatchErrors([1, 9, 2, 3, 4], { kind: 'trimmedMean', trim: 0.2 })).toBe(3);
    expect(scoreKindLabel({ kind: 'trimmedMean', trim: 0.1 })).toBe('trimmedMean(0.1)');
    expect(scoreKindLabel({ kind: 'dedeScore' })).toBe('dedeScore');
    expect(() => checkScoreKind({ kind: 'max' } as unknown as ScoreKind)).toThrow(/unknown score kind "max"/);
  });
});
