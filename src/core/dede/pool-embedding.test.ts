import { describe, expect, it } from 'vitest';
import { poolEmbedding } from './pool-embedding';

describe('poolEmbedding', () => {
  it('passes [N, D] and [N, D, 1, 1] through as [N, D]', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect(poolEmbedding(data, [2, 3], 'none')).toEqual({ dim: 3, data });
    expect(poolEmbedding(data, [2, 3, 1, 1], 'flatten')).toEqual({ dim: 3, data });
  });

  it('averages [N, C, H, W] over H and W', () => {
    // n0: c0 = [1 2 / 3 4] → 2.5, c1 = [0 0 / 0 8] → 2; n1: c0 = [-1 -1 / -1 -1] → -1, c1 = [10 20 / 30 40] → 25
    const data = Float32Array.from([1, 2, 3, 4, 0, 0, 0, 8, -1, -1, -1, -1, 10, 20, 30, 40]);
    expect(poolEmbedding(data, [2, 2, 2, 2], 'avgpool')).toEqual({ dim: 2, data: Float32Array.from([2.5, 2, -1, 25]) });
    // A 1×1 map pools to itself.
    expect(poolEmbedding(Float32Array.from([7, 8]), [1, 2, 1, 1], 'avgpool').data).toEqual(Float32Array.from([7, 8]));
  });

  it('takes token 0 (CLS) or the mean of tokens 1…T−1 of [N, T, D]', () => {
    // n0 tokens: [1 2] (CLS), [3 4], [5 9]; n1: [0 0], [-2 2], [4 6]
    const data = Float32Array.from([1, 2, 3, 4, 5, 9, 0, 0, -2, 2, 4, 6]);
    expect(poolEmbedding(data, [2, 3, 2], 'cls')).toEqual({ dim: 2, data: Float32Array.from([1, 2, 0, 0]) });
    expect(poolEmbedding(data, [2, 3, 2], 'patch-mean')).toEqual({ dim: 2, data: Float32Array.from([4, 6.5, 1, 4]) });
  });

  it('sums in float64: a long mean of large and small values is exact where float32 sums drift', () => {
    const t = 4097;
    const data = new Float32Array(t).fill(1);
    data[1] = 2 ** 24; // float32 accumulation would lose every later +1
    const mean = poolEmbedding(data, [1, t, 1], 'patch-mean').data[0]!;
    expect(mean).toBe(Math.fround((2 ** 24 + 4095) / 4096));
  });

  it('refuses a shape the pooling cannot read, naming the output and the fix', () => {
    expect(() => poolEmbedding(new Float32Array(6), [2, 3], 'cls', 'pooler_output')).toThrow(
      'Encoder output pooler_output came out shaped [2, 3], but the chosen readout (cls) needs [batch, tokens, D]: choose another readout on the Encoder step (--output in the CLI).',
    );
    expect(() => poolEmbedding(new Float32Array(8), [2, 2, 2], 'flatten')).toThrow(/needs \[batch, D, 1, 1\]/);
    expect(() => poolEmbedding(new Float32Array(2), [2, 1, 1], 'patch-mean')).toThrow(/at least 2 tokens/);
    expect(() => poolEmbedding(new Float32Array(5), [2, 3], 'none')).toThrow(/with 5 values/);
  });
});
