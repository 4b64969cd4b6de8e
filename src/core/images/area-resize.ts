// Exact area averaging: each output pixel is the mean of the source pixels it covers, fractional
// overlaps weighted by their length. For an integral factor (224 → 32 is 7) this is the plain block
// mean, the same as an AveragePool in the encoder's graph; for any factor it is what the pixels
// "look like" at the smaller size, with no ringing. The decoder works on a small copy of what the
// encoder saw (the processed crop), made here; the near-duplicate fingerprints use the same weights.

/** For each of `s` output cells along a side of `len` source pixels: [source index, overlap length]. */
export function areaWeights(len: number, s: number): [number, number][][] {
  const cell = len / s;
  return Array.from({ length: s }, (_, u) => {
    const lo = u * cell;
    const hi = (u + 1) * cell;
    const pairs: [number, number][] = [];
    for (let i = Math.floor(lo); i < Math.ceil(hi); i++) {
      const w = Math.min(hi, i + 1) - Math.max(lo, i);
      if (w > 1e-12) pairs.push([i, w]);
    }
    return pairs;
  });
}

/**
 * Interleaved RGB uint8 [sh, sw, 3] → [dh, dw, 3] by exact area averaging, rounded to the nearest
 * level. Separable: rows first into floats, then columns, so the cost is O(sh·sw + sh·dw) per image.
 */
export function areaResizeRgb(src: Uint8Array, sw: number, sh: number, dw: number, dh: number, out = new Uint8Array(dw * dh * 3)): Uint8Array {
  if (src.length !== sw * sh * 3) throw new Error(`areaResizeRgb: ${src.length} bytes for a ${sw}×${sh} RGB image`);
  if (out.length !== dw * dh * 3) throw new Error(`areaResizeRgb: output holds ${out.length} bytes, needs ${dw * dh * 3}`);
  if (sw === dw && sh === dh) {
    out.set(src);
    return out;
  }
  const wx = areaWeights(sw, dw);
  const wy = areaWeights(sh, dh);
  const cellX = sw / dw;
  const cellY = sh / dh;
  const rows = new Float32Array(sh * dw * 3);
  for (let y = 0; y < sh; y++) {
    for (let v = 0; v < dw; v++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [x, w] of wx[v]!) {
        const i = (y * sw + x) * 3;
        r += w * src[i]!;
        g += w * src[i + 1]!;
        b += w * src[i + 2]!;
      }
      const o = (y * dw + v) * 3;
      rows[o] = r / cellX;
      rows[o + 1] = g / cellX;
      rows[o + 2] = b / cellX;
    }
  }
  for (let u = 0; u < dh; u++) {
    for (let v = 0; v < dw; v++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [y, w] of wy[u]!) {
        const i = (y * dw + v) * 3;
        r += w * rows[i]!;
        g += w * rows[i + 1]!;
        b += w * rows[i + 2]!;
      }
      const o = (u * dw + v) * 3;
      out[o] = Math.round(r / cellY);
      out[o + 1] = Math.round(g / cellY);
      out[o + 2] = Math.round(b / cellY);
    }
  }
  return out;
}

/** `count` images stored back to back, each resized with areaResizeRgb. */
export function areaResizeRgbBatch(src: Uint8Array, count: number, sw: number, sh: number, dw: number, dh: number): Uint8Array {
  const from = sw * sh * 3;
  const to = dw * dh * 3;
  if (src.length < count * from) throw new Error(`areaResizeRgbBatch: ${src.length} bytes for ${count} images of ${sw}×${sh}`);
  if (sw === dw && sh === dh) return src.subarray(0, count * from);
  const out = new Uint8Array(count * to);
  for (let n = 0; n < count; n++) areaResizeRgb(src.subarray(n * from, (n + 1) * from), sw, sh, dw, dh, out.subarray(n * to, (n + 1) * to));
  return out;
}
