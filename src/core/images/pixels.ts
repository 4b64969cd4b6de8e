// Pixel helpers between the decoder's RGBA, the stored RGB and the encoder's normalised CHW input.
import { normalizeRgb, type Preprocessing } from './preprocess';

/** Interleaved RGBA (canvas ImageData) → interleaved RGB, alpha dropped (PIL's convert('RGB')). */
export function rgbaToRgb(rgba: Uint8ClampedArray | Uint8Array, out = new Uint8Array((rgba.length / 4) * 3)): Uint8Array {
  const n = rgba.length / 4;
  if (out.length < n * 3) throw new Error(`rgbaToRgb: output holds ${out.length} bytes, needs ${n * 3}.`);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[j] = rgba[i * 4]!;
    out[j + 1] = rgba[i * 4 + 1]!;
    out[j + 2] = rgba[i * 4 + 2]!;
  }
  return out;
}

/** Interleaved RGB → opaque RGBA, for drawing thumbnails into an ImageData. */
export function rgbToRgba(rgb: Uint8Array, out = new Uint8ClampedArray((rgb.length / 3) * 4)): Uint8ClampedArray {
  const n = rgb.length / 3;
  for (let i = 0; i < n; i++) {
    out[i * 4] = rgb[i * 3]!;
    out[i * 4 + 1] = rgb[i * 3 + 1]!;
    out[i * 4 + 2] = rgb[i * 3 + 2]!;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/**
 * Normalises `count` stored images (interleaved RGB, each p.height×p.width) into an NCHW float32
 * batch with the encoder's statistics: (x · rescale − mean) / std per channel.
 */
export function normalizeRgbBatch(rgb: Uint8Array, count: number, p: Preprocessing, out = new Float32Array(count * 3 * p.height * p.width)): Float32Array {
  const size = p.height * p.width * 3;
  if (rgb.length < count * size) throw new Error(`Expected ${count * size} RGB bytes for ${count} images of ${p.width}×${p.height}, got ${rgb.length}.`);
  for (let n = 0; n < count; n++) normalizeRgb(rgb.subarray(n * size, (n + 1) * size), p, out.subarray(n * size, (n + 1) * size));
  return out;
}

/** The source rectangle a fit mode takes from a w×h image to make a square. */
export function fitRect(width: number, height: number, fit: 'crop' | 'stretch'): { sx: number; sy: number; sw: number; sh: number } {
  if (fit === 'stretch' || width === height) return { sx: 0, sy: 0, sw: width, sh: height };
  const side = Math.min(width, height);
  return { sx: Math.floor((width - side) / 2), sy: Math.floor((height - side) / 2), sw: side, sh: side };
}

/**
 * Interleaved CMYK (as stored, Adobe inversion already undone) → RGB the way Pillow's
 * convert('RGB') does it, with no colour management: R = (255 − K) − round(C · (255 − K) / 255).
 * Colour-managed decoders (libvips with a CMYK profile) give quite different colours, and the
 * Hugging Face processors see Pillow's.
 */
export function cmykToRgb(cmyk: Uint8Array, out = new Uint8Array((cmyk.length / 4) * 3)): Uint8Array {
  const n = cmyk.length / 4;
  for (let i = 0; i < n; i++) {
    const nk = 255 - cmyk[i * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const t = cmyk[i * 4 + c]! * nk + 128;
      out[i * 3 + c] = nk - (((t >> 8) + t) >> 8);
    }
  }
  return out;
}
