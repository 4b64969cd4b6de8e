// IEEE 754 half precision <-> single precision, exactly: float16 models take and return their
// tensors as raw 16-bit patterns (ORT's Tensor accepts a Uint16Array for 'float16').

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bit pattern nearest to `x` (round to nearest, ties to even; overflow → ±inf; NaN stays NaN). */
export function toFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: m × 2^-24 with m = (1.mant) × 2^(exp-126), i.e. the 24-bit significand shifted right.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    const m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (m + (rem > halfway || (rem === halfway && (m & 1) === 1) ? 1 : 0));
  }
  const h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, which is the right result (up to +inf).
  return h + (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1) ? 1 : 0);
}

/** The value of a float16 bit pattern (exact in float32). */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

export function float32ToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toFloat16Bits(values[i]!);
  return out;
}

let table: Float32Array | null = null;

export function float16ToFloat32(bits: Uint16Array): Float32Array {
  table ??= Float32Array.from({ length: 65536 }, (_, h) => fromFloat16Bits(h));
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}
