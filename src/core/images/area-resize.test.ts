import { describe, expect, it } from 'vitest';
import { areaResizeRgb, areaResizeRgbBatch, areaWeights } from './area-resize';

function randomRgb(w: number, h: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: w * h * 3 }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s >>> 24;
  });
}

/** Brute force: integrate the piecewise-constant image over each output cell in 2-D, on a fine grid. */
function referenceArea(src: Uint8Array, sw: number, sh: number, dw: number, dh: number, steps = 1): number[] {
  const out: number[] = [];
  for (let u = 0; u < dh; u++)
    for (let v = 0; v < dw; v++)
      for (let c = 0; c < 3; c++) {
        // Exact 2-D overlap of the output cell with every source pixel.
        const [y0, y1] = [(u * sh) / dh, ((u + 1) * sh) / dh];
        const [x0, x1] = [(v * sw) / dw, ((v + 1) * sw) / dw];
        let sum = 0;
        for (let y = 0; y < sh; y++)
          for (let x = 0; x < sw; x++) {
            const oy = Math.max(0, Math.min(y1, y + 1) - Math.max(y0, y));
            const ox = Math.max(0, Math.min(x1, x + 1) - Math.max(x0, x));
            sum += oy * ox * src[(y * sw + x) * 3 + c]! * steps;
          }
        out.push(sum / ((y1 - y0) * (x1 - x0)));
      }
  return out;
}

describe('areaResizeRgb', () => {
  it('is the block mean for an integral factor (224 → 32 is 7×7 blocks, as an AveragePool)', () => {
    const src = randomRgb(56, 28, 1);
    const out = areaResizeRgb(src, 56, 28, 8, 4);
    for (let u = 0; u < 4; u++)
      for (let v = 0; v < 8; v++)
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let y = u * 7; y < u * 7 + 7; y++) for (let x = v * 7; x < v * 7 + 7; x++) sum += src[(y * 56 + x) * 3 + c]!;
          expect(out[(u * 8 + v) * 3 + c]).toBe(Math.round(sum / 49));
        }
  });

  it('weighs fractional overlaps exactly (224 → 64 is 3.5 pixels a cell; 30 → 7 is ragged)', () => {
    for (const [sw, sh, dw, dh] of [
      [14, 14, 4, 4],
      [30, 21, 7, 5],
      [9, 12, 4, 5],
    ] as const) {
      const src = randomRgb(sw, sh, sw * 31 + dh);
      const out = areaResizeRgb(src, sw, sh, dw, dh);
      const ref = referenceArea(src, sw, sh, dw, dh);
      // The only difference allowed is float rounding at a .5 boundary.
      ref.forEach((r, i) => expect(Math.abs(out[i]! - r)).toBeLessThanOrEqual(0.5 + 1e-4));
    }
  });

  it('keeps a flat image flat, copies at equal size, and upsamples by coverage', () => {
    const flat = new Uint8Array(10 * 6 * 3).fill(77);
    expect([...new Set(areaResizeRgb(flat, 10, 6, 3, 4))]).toEqual([77]);
    const src = randomRgb(5, 5, 9);
    expect(areaResizeRgb(src, 5, 5, 5, 5)).toEqual(src);
    // 2 → 4: each source pixel covers two output pixels exactly.
    const two = Uint8Array.from([0, 0, 0, 200, 100, 50]);
    expect([...areaResizeRgb(two, 2, 1, 4, 1)]).toEqual([0, 0, 0, 0, 0, 0, 200, 100, 50, 200, 100, 50]);
  });

  it('weights of a side sum to the side length', () => {
    for (const [len, s] of [[224, 32], [224, 64], [37, 5], [3, 8]] as const) {
      const total = areaWeights(len, s).flat().reduce((a, [, w]) => a + w, 0);
      expect(total).toBeCloseTo(len, 9);
    }
  });

  it('resizes a batch image by image', () => {
    const a = randomRgb(21, 21, 3);
    const b = randomRgb(21, 21, 4);
    const batch = new Uint8Array([...a, ...b]);
    const out = areaResizeRgbBatch(batch, 2, 21, 21, 3, 3);
    expect(out.subarray(0, 27)).toEqual(areaResizeRgb(a, 21, 21, 3, 3));
    expect(out.subarray(27)).toEqual(areaResizeRgb(b, 21, 21, 3, 3));
  });
});
