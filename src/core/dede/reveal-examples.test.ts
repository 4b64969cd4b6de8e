import { describe, expect, it } from 'vitest';
import { nearestExamples, neighbourScale, revealExamples } from './reveal-examples';

describe('nearestExamples', () => {
  it('ranks reference rows by cosine to the target, ignoring length', () => {
    const reference = { dim: 2, data: Float32Array.from([1, 0, 0, 5, 3, 3, -1, 0]) };
    const got = nearestExamples(Float32Array.from([10, 9]), reference, 3);
    expect(got.map((m) => m.index)).toEqual([2, 0, 1]);
    expect(got[0]!.similarity).toBeCloseTo((10 * 3 + 9 * 3) / (Math.hypot(10, 9) * Math.hypot(3, 3)), 6);
    expect(() => nearestExamples(new Float32Array(3), reference)).toThrow(/3-value target for 2-value/);
  });

  it('measures how close clean rows sit to their nearest other row', () => {
    // Rows at 0°, 10°, 90°, 100°: each one's nearest is 10° away.
    const deg = [0, 10, 90, 100].map((a) => (a * Math.PI) / 180);
    const scale = neighbourScale({ dim: 2, data: Float32Array.from(deg.flatMap((a) => [Math.cos(a), Math.sin(a)])) });
    expect(scale.median).toBeCloseTo(Math.cos((10 * Math.PI) / 180), 6);
    expect(scale.n).toBe(4);
    expect(revealExamples(Float32Array.from([1, 0.1]), { dim: 2, data: Float32Array.from(deg.flatMap((a) => [Math.cos(a), Math.sin(a)])) }, 1)).toMatchObject({ nearest: [{ index: 1 }], scale: { n: 4 } }); // 5.7° is nearer 10° than 0°
  });
});
