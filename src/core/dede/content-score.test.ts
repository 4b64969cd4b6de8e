import { describe, expect, it } from 'vitest';
import { checkContentScale, contentScore, contentZ, cosineDistance, fitContentScale, flipHorizontal, lowPassError, resizeBilinear } from './content-score';

describe('lowPassError', () => {
  it('is the mean of the 12 smallest of 16 cell errors, cell error summed over channels', () => {
    // 2 channels, 8×8: cells are 2×2. r − x = cell index k on channel 0 and 1 on channel 1, so the
    // cell error is k² + 1 and the lowest 12 cells are k = 0…11: (Σk² + 12) / 12 = (506 + 12) / 12.
    const C = 2, S = 8;
    const x = new Float32Array(C * S * S).map((_, i) => (i % 7) * 0.1);
    const r = x.slice();
    for (let y = 0; y < S; y++)
      for (let xx = 0; xx < S; xx++) {
        const k = Math.floor(y / 2) * 4 + Math.floor(xx / 2);
        r[y * S + xx]! += k;
        r[S * S + y * S + xx]! += 1;
      }
    expect(lowPassError(x, r, C, S, S)).toBeCloseTo((506 + 12) / 12, 4);
  });
  it('ignores a difference confined to one cell (a local trigger) and zero-mean texture', () => {
    const S = 32;
    const x = new Float32Array(3 * S * S);
    const r = x.slice();
    r[0] = 50; // one pixel in cell 0
    for (let i = 0; i < r.length; i += 2) { r[i]! += 1; r[i + 1]! -= 1; } // checkerboard averages out in 8×8 cells
    expect(lowPassError(x, r, 3, S, S)).toBe(0);
  });
});

describe('cosineDistance, flip and resize', () => {
  it('1 − cos as a direct computation', () => {
    expect(cosineDistance([1, 0], [0, 2])).toBeCloseTo(1, 12);
    expect(cosineDistance([1, 2, 3], [2, 4, 6])).toBeCloseTo(0, 12);
    expect(cosineDistance([1, 1], [1, 0])).toBeCloseTo(1 - 1 / Math.SQRT2, 12);
  });
  it('flips every row of every channel', () => {
    const img = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i);
    expect(Array.from(flipHorizontal(img, 2, 2, 3))).toEqual([2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9]);
  });
  it('bilinear with half-pixel centres matches torch F.interpolate(align_corners=False)', () => {
    // torch.nn.functional.interpolate(torch.tensor([[[[0.,1.],[2.,3.]]]]), size=(4,4), mode='bilinear', align_corners=False)
    const out = resizeBilinear(Float32Array.from([0, 1, 2, 3]), 1, 2, 2, 4, 4);
    expect(Array.from(out)).toEqual([0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3].map((v) => expect.closeTo(v, 6)));
    expect(Array.from(resizeBilinear(Float32Array.from([1, 2]), 1, 1, 2, 1, 2))).toEqual([1, 2]);
  });
});

describe('content score', () => {
  const clean = [1, 2, 4, 8, 16].map((v) => ({ semantic: v, lowPass: 10 * v, flip: v / 10 }));
  it('fits the median and 1.4826·MAD of the logarithms', () => {
    const s = fitContentScale(clean);
    // logs of 1,2,4,8,16: median ln 4, |deviations| 2ln2, ln2, 0, ln2, 2ln2 → MAD ln 2.
    expect(s.semantic.center).toBeCloseTo(Math.log(4), 12);
    expect(s.semantic.spread).toBeCloseTo(1.4826 * Math.log(2), 12);
    expect(s.lowPass.center).toBeCloseTo(Math.log(40), 12);
    expect(s.images).toBe(5);
  });
  it('is the inverse-variance weighted mean of the z of semantic and lowPass and |z| of the flip', () => {
    const s = fitContentScale(clean);
    const c = { semantic: 16, lowPass: 40, flip: 0.1 };
    const u = 1.4826 * Math.log(2);
    const z = contentZ(c, s);
    expect(z.semantic).toBeCloseTo(2 / 1.4826, 10);
    expect(z.lowPass).toBeCloseTo(0, 10);
    expect(z.flip).toBeCloseTo(Math.abs(Math.log(0.1) - Math.log(0.4)) / u, 10); // a flip that moves less than clean counts too
    // Clean z: semantic and lowPass (−2, −1, 0, 1, 2)/1.4826 (variance 2.5/1.4826²), flip |z| (2, 1, 0, 1, 2)/1.4826
    // (variance 0.7/1.4826²): weights ∝ 1/2.5, 1/2.5, 1/0.7.
    const inv = [1 / 2.5, 1 / 2.5, 1 / 0.7];
    const total = inv[0]! + inv[1]! + inv[2]!;
    expect(s.weights?.semantic).toBeCloseTo(inv[0]! / total, 12);
    expect(s.weights?.lowPass).toBeCloseTo(inv[1]! / total, 12);
    expect(s.weights?.flip).toBeCloseTo(inv[2]! / total, 12);
    expect(contentScore(c, s)).toBeCloseTo((inv[0]! * z.semantic + inv[1]! * z.lowPass + inv[2]! * z.flip) / total, 12);
    // A scale fitted before weights existed scores the plain mean.
    const { weights: _dropped, ...unweighted } = s;
    expect(contentScore(c, unweighted)).toBeCloseTo((z.semantic + z.lowPass + z.flip) / 3, 12);
    expect(() => checkContentScale({ ...s, weights: { semantic: 0.5, lowPass: 0.5, flip: 0.5 } })).toThrow(/sum to 1/);
  });
});
