import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, fromFloat16Bits, toFloat16Bits } from './float16';
import type { OrtTensor } from './ort-types';
import { readFloats } from './session';

const bits32 = new Uint32Array(1);
const asFloat = new Float32Array(bits32.buffer);
/** The float32 next to x (x > 0) in the given direction. */
function nextFloat32(x: number, up: boolean): number {
  asFloat[0] = x;
  bits32[0] = bits32[0]! + (up ? 1 : -1);
  return asFloat[0]!;
}

describe('float16 conversion', () => {
  it('matches numpy (float32 → float16 astype) on golden values', () => {
    // /usr/bin/python3: np.float32(v).astype(np.float16).view(np.uint16)
    const golden: [number, number][] = [
      [0x3eaaaaab, 0x3555], // 1/3
      [0x477fe000, 0x7bff], // 65504, the largest half
      [0x477fefff, 0x7bff], // just below the overflow midpoint
      [0x477ff000, 0x7c00], // 65520: the midpoint ties to even, which is +inf
      [0x33800000, 0x0001], // 2^-24, the smallest subnormal
      [0x33000000, 0x0000], // 2^-25: tie between 0 and 2^-24 → 0 (even)
      [0x33400000, 0x0001], // 1.5 × 2^-25 → 2^-24
      [0x33000001, 0x0001], // just above 2^-25
      [0x38800000, 0x0400], // 2^-14, the smallest normal
      [0x387fe000, 0x0400], // largest-subnormal/smallest-normal midpoint → even (normal)
      [0x387fda40, 0x03ff], // 6.1e-5: subnormal
      [0x3f801000, 0x3c00], // 1 + 2^-11: tie → 1 (even)
      [0x3f803000, 0x3c02], // 1 + 3 × 2^-11: tie → 1 + 2^-9 (even)
      [0x80000000, 0x8000], // -0
      [0x3dcccccd, 0x2e66], // 0.1
      [0xc2f6e979, 0xd7b7], // -123.456
      [0x322bcc77, 0x0000], // 1e-8 underflows
    ];
    for (const [f, h] of golden) {
      bits32[0] = f;
      expect(toFloat16Bits(asFloat[0]!), `0x${f.toString(16)}`).toBe(h);
    }
  });

  it('round-trips every float16 value exactly, and maps inf and NaN', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const values = float16ToFloat32(all);
    const back = float32ToFloat16(values);
    for (let h = 0; h < 65536; h++) {
      const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN16) {
        expect(Number.isNaN(values[h])).toBe(true);
        expect((back[h]! & 0x7c00) === 0x7c00 && (back[h]! & 0x3ff) !== 0).toBe(true);
      } else if (back[h] !== h) {
        throw new Error(`0x${h.toString(16)} → ${values[h]} → 0x${back[h]!.toString(16)}`);
      }
    }
    expect(fromFloat16Bits(0x7c00)).toBe(Infinity);
    expect(fromFloat16Bits(0xfc00)).toBe(-Infinity);
    expect(toFloat16Bits(Infinity)).toBe(0x7c00);
    expect(toFloat16Bits(-1e9)).toBe(0xfc00);
    expect(toFloat16Bits(NaN) & 0x7fff).toBeGreaterThan(0x7c00);
    expect(fromFloat16Bits(0x0001)).toBe(2 ** -24);
    expect(fromFloat16Bits(0x3c00)).toBe(1);
    expect(fromFloat16Bits(0xc000)).toBe(-2);
  });

  it('rounds to nearest, ties to even, between every pair of adjacent finite halves', () => {
    for (let h = 0; h < 0x7bff; h++) {
      const lo = fromFloat16Bits(h);
      const hi = fromFloat16Bits(h + 1);
      const mid = (lo + hi) / 2; // exact in float32: one bit more than a half holds
      const even = h % 2 === 0 ? h : h + 1;
      const got = [toFloat16Bits(nextFloat32(mid, false)), toFloat16Bits(mid), toFloat16Bits(nextFloat32(mid, true))];
      const negated = [toFloat16Bits(-nextFloat32(mid, false)), toFloat16Bits(-mid), toFloat16Bits(-nextFloat32(mid, true))];
      if (got[0] !== h || got[1] !== even || got[2] !== h + 1 || negated.some((n, i) => n !== (got[i]! | 0x8000))) {
        throw new Error(`around the midpoint of 0x${h.toString(16)} and 0x${(h + 1).toString(16)}: ${got.map((g) => g.toString(16))}`);
      }
    }
  });
});

describe('readFloats', () => {
  it('reads a float16 tensor from its raw bits, whichever view holds them (Uint16Array, or Float16Array in browsers)', async () => {
    const bits = float32ToFloat16(Float32Array.from([1, -2.5, 65504, 2 ** -24]));
    const backing = new Uint8Array(6 + bits.byteLength);
    backing.set(new Uint8Array(bits.buffer), 6);
    // A view at an offset that is not a Uint16Array stands for Chromium's Float16Array.
    const views = [bits, new DataView(backing.buffer, 6, bits.byteLength)];
    for (const data of views) {
      const tensor = { type: 'float16', location: 'cpu', data } as unknown as OrtTensor;
      expect(await readFloats(tensor)).toEqual(Float32Array.from([1, -2.5, 65504, 2 ** -24]));
    }
    const f32 = { type: 'float32', location: 'cpu', data: Float32Array.from([0.5]) } as unknown as OrtTensor;
    expect(await readFloats(f32)).toEqual(Float32Array.from([0.5]));
  });
});
