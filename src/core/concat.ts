// One concatenation of typed arrays (bytes, pixels, embeddings) for the whole code base.

/** The parts back to back in a new array made by `Ctor`. */
export function concatArrays<T extends Uint8Array | Float32Array | Float64Array>(Ctor: new (length: number) => T, parts: readonly ArrayLike<number>[]): T {
  const out = new Ctor(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
