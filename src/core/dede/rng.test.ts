import { describe, expect, it } from 'vitest';
import { mulberry32, permutation, shuffleInPlace } from './rng';

// Golden: scripts/reference/dede_torch.py's Mulberry32(7) driving the textbook Fisher–Yates loop
// (for i from n-1 down to 1: j = int(rng() * (i + 1)); swap a[i], a[j]) in Python.
const GOLDEN_SEED7_N12 = [7, 10, 3, 5, 1, 8, 2, 4, 6, 9, 11, 0];

describe('seeded shuffle', () => {
  it('matches the Python mirror draw for draw', () => {
    expect(permutation(12, mulberry32(7))).toEqual(GOLDEN_SEED7_N12);
  });

  it('shuffles typed arrays and arrays of any element the same way', () => {
    const typed = Int32Array.from({ length: 12 }, (_, i) => i);
    shuffleInPlace(typed, mulberry32(7));
    expect(Array.from(typed)).toEqual(GOLDEN_SEED7_N12);
    const names = Array.from({ length: 12 }, (_, i) => `f${i}`);
    shuffleInPlace(names, mulberry32(7));
    expect(names).toEqual(GOLDEN_SEED7_N12.map((i) => `f${i}`));
  });

  it('leaves empty and single-element inputs alone without drawing', () => {
    let draws = 0;
    const rng = () => (draws++, 0.5);
    expect(permutation(0, rng)).toEqual([]);
    expect(permutation(1, rng)).toEqual([0]);
    expect(draws).toBe(0);
  });
});
