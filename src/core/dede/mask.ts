// Random patch masks as one-hot selection matrices: keep[b, i, t] = 1 when the i-th visible patch
// of image b is patch t. Gathering visible tokens is then MatMul(keep, X) and scattering them back
// is MatMul(keepᵀ, V), so the training graph needs no Gather/Scatter and no int64 runtime input.

import type { Rng } from './rng';

/** Per image, Tk distinct patch indices in ascending order; flat [B·Tk]. Mirrored in Python. */
export function sampleKeepIndices(batch: number, numPatches: number, keepCount: number, rng: Rng): Int32Array {
  if (!Number.isInteger(keepCount) || keepCount < 0 || keepCount > numPatches) {
    throw new Error(`keep count must be an integer in [0, ${numPatches}], got ${keepCount}`);
  }
  const out = new Int32Array(batch * keepCount);
  const perm = new Int32Array(numPatches);
  for (let bi = 0; bi < batch; bi++) {
    for (let t = 0; t < numPatches; t++) perm[t] = t;
    // Partial Fisher–Yates: the first Tk slots end up a uniform random subset.
    for (let i = 0; i < keepCount; i++) {
      const j = i + Math.floor(rng() * (numPatches - i));
      const tmp = perm[i] as number;
      perm[i] = perm[j] as number;
      perm[j] = tmp;
    }
    const kept = perm.slice(0, keepCount).sort();
    out.set(kept, bi * keepCount);
  }
  return out;
}

/** One-hot [B, Tk, T] float32 from flat indices [B·Tk]. */
export function keepOneHot(indices: Int32Array, batch: number, numPatches: number, keepCount: number): Float32Array {
  if (indices.length !== batch * keepCount) throw new Error(`expected ${batch * keepCount} keep indices, got ${indices.length}`);
  const out = new Float32Array(batch * keepCount * numPatches);
  indices.forEach((t, r) => {
    if (t < 0 || t >= numPatches) throw new Error(`keep index ${t} out of range [0, ${numPatches})`);
    out[r * numPatches + t] = 1;
  });
  return out;
}

/** A seeded random mask, ready to feed as the `keep` input. */
export function randomKeep(batch: number, numPatches: number, keepCount: number, rng: Rng): Float32Array {
  return keepOneHot(sampleKeepIndices(batch, numPatches, keepCount, rng), batch, numPatches, keepCount);
}
