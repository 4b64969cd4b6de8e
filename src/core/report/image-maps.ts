// Pixel maps for review and reports: back from the encoder's normalised space to RGB, per-pixel
// error summed over channels, and a colour-blind-safe colour map (viridis) for heatmaps. Pure.
import type { Preprocessing } from '../images/preprocess';

/** Viridis (matplotlib) sampled at 0, 0.1, …, 1; perceptually uniform and colour-blind safe. */
const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [0x44, 0x01, 0x54], [0x48, 0x24, 0x75], [0x41, 0x44, 0x87], [0x35, 0x5f, 0x8d], [0x2a, 0x78, 0x8e], [0x21, 0x91, 0x8c],
  [0x22, 0xa8, 0x84], [0x44, 0xbf, 0x70], [0x7a, 0xd1, 0x51], [0xbd, 0xdf, 0x26], [0xfd, 0xe7, 0x25],
];

export const COLORMAP_NAME = 'viridis';

/** The colour for t ∈ [0, 1] (clamped; NaN maps to 0), linearly interpolated between samples. */
export function viridis(t: number): [number, number, number] {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const f = x * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(f));
  const w = f - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [Math.round(a[0] + (b[0] - a[0]) * w), Math.round(a[1] + (b[1] - a[1]) * w), Math.round(a[2] + (b[2] - a[2]) * w)];
}

/** CSS linear-gradient stops of the colour map, for legends. */
export function viridisGradient(): string {
  return VIRIDIS.map((c, i) => `rgb(${c[0]} ${c[1]} ${c[2]}) ${Math.round((i / (VIRIDIS.length - 1)) * 100)}%`).join(', ');
}

/** Side of a square [C, S, S] planar tensor with C = 3. */
export function planarSide(chw: ArrayLike<number>, channels = 3): number {
  const side = Math.round(Math.sqrt(chw.length / channels));
  if (side * side * channels !== chw.length) throw new Error(`Expected a square ${channels}-channel map, got ${chw.length} values.`);
  return side;
}

/** Planar [3, H, W] normalised values → interleaved RGB bytes: x · std + mean, / rescale, clamped. */
export function denormalizeToRgb(chw: ArrayLike<number>, p: Pick<Preprocessing, 'mean' | 'std' | 'rescale'>): Uint8Array {
  const plane = chw.length / 3;
  const out = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    const std = p.std[c]!;
    const mean = p.mean[c]!;
    for (let i = 0; i < plane; i++) {
      const v = ((chw[c * plane + i]! * std + mean) / p.rescale);
      out[i * 3 + c] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  return out;
}

/** Planar [C, H, W] → [H, W]: the sum over channels (per-pixel squared error of an image). */
export function sumChannels(chw: ArrayLike<number>, channels = 3): Float32Array {
  const plane = chw.length / channels;
  const out = new Float32Array(plane);
  for (let c = 0; c < channels; c++) for (let i = 0; i < plane; i++) out[i]! += chw[c * plane + i]!;
  return out;
}

export function maxOf(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! > m) m = values[i]!;
  return m;
}

/** Values in [0, max] → RGBA through viridis (alpha 255); max ≤ 0 gives the colour map's floor. */
export function heatmapRgba(values: ArrayLike<number>, max: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(values.length * 4);
  const scale = max > 0 ? 1 / max : 0;
  for (let i = 0; i < values.length; i++) {
    const [r, g, b] = viridis(values[i]! * scale);
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** Interleaved RGB with the heatmap of `values` laid over it at `opacity` ∈ [0, 1] → RGB. */
export function overlayHeatmap(rgb: Uint8Array, values: ArrayLike<number>, max: number, opacity: number): Uint8Array {
  if (rgb.length !== values.length * 3) throw new Error(`overlay: ${rgb.length / 3} pixels but ${values.length} values`);
  const heat = heatmapRgba(values, max);
  const a = Math.min(1, Math.max(0, opacity));
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < values.length; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(rgb[i * 3 + c]! * (1 - a) + heat[i * 4 + c]! * a);
  }
  return out;
}

/** Nearest-neighbour upscale of interleaved pixels by an integer factor (small images in reports). */
export function upscale(pixels: Uint8Array, width: number, height: number, channels: number, factor: number): Uint8Array {
  const W = width * factor;
  const out = new Uint8Array(W * height * factor * channels);
  for (let y = 0; y < height * factor; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < W; x++) {
      const s = (sy * width + Math.floor(x / factor)) * channels;
      const d = (y * W + x) * channels;
      for (let c = 0; c < channels; c++) out[d + c] = pixels[s + c]!;
    }
  }
  return out;
}


/**
 * The positive part of a signed [side, side] map (where flagged images err more than the rest) as a
 * heatmap scaled to its own maximum, with that maximum and the pixel where it peaks.
 */
export function positiveHeatmap(values: ArrayLike<number>, side: number): { rgba: Uint8ClampedArray; max: number; peak: { x: number; y: number } } {
  const pos = Array.from(values, (v) => Math.max(0, v));
  const max = maxOf(pos);
  let at = 0;
  for (let i = 1; i < pos.length; i++) if (pos[i]! > pos[at]!) at = i;
  return { rgba: heatmapRgba(pos, max), max, peak: { x: at % side, y: Math.floor(at / side) } };
}

/** A scan's trigger map (flagged minus unflagged mean error) for display. */
export function triggerMapDisplay(map: { readonly diff: ArrayLike<number>; readonly side: number }): { rgba: Uint8ClampedArray; max: number; peak: { x: number; y: number } } {
  return positiveHeatmap(map.diff, map.side);
}

/** A revealed cluster's trigger map as a heatmap (what the view and the report draw); null without one. */
export function clusterMapRgba(cluster: { readonly triggerMap: { readonly map: ArrayLike<number>; readonly side: number } | null }): Uint8ClampedArray | null {
  return cluster.triggerMap ? positiveHeatmap(cluster.triggerMap.map, cluster.triggerMap.side).rgba : null;
}
