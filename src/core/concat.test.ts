import { describe, expect, it } from 'vitest';
import { concatArrays } from './concat';

describe('concatArrays', () => {
  it('puts the parts back to back in a new array of the asked type', () => {
    const a = Float32Array.from([1, 2]);
    const out = concatArrays(Float32Array, [a, [], Float32Array.from([3])]);
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out)).toEqual([1, 2, 3]);
    out[0] = 9;
    expect(a[0]).toBe(1); // a copy, not a view
    expect(Array.from(concatArrays(Uint8Array, [Uint8Array.from([255]), [1, 2]]))).toEqual([255, 1, 2]);
    expect(concatArrays(Uint8Array, []).length).toBe(0);
  });
});
