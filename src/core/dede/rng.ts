// A tiny seeded RNG shared, bit for bit, with scripts/reference/dede_torch.py: parameter init,
// synthetic test data and mask sampling must be reproducible in both languages. mulberry32 only
// needs 32-bit wrap-around arithmetic, which Python emulates with `& 0xFFFFFFFF`.

/** Uniform draws in [0, 1). */
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1) >>> 0;
    t = (((t + Math.imul(t ^ (t >>> 7), t | 61)) >>> 0) ^ t) >>> 0;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal via Box–Muller; uses two draws and keeps only the cosine branch (simple to mirror). */
export function normal(rng: Rng): number {
  const u1 = rng();
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

/** `n` float32 normals with standard deviation `std`. */
export function normals(rng: Rng, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * normal(rng);
  return out;
}

/** Fisher–Yates shuffle in place (from the last index down), one draw of `rng` per swap. */
export function shuffleInPlace<T>(items: { length: number; [i: number]: T }, rng: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
}

/** 0..n-1 in a seeded random order. */
export function permutation(n: number, rng: Rng): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(order, rng);
  return order;
}
