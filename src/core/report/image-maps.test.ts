import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { clusterMapRgba, denormalizeToRgb, heatmapRgba, overlayHeatmap, sumChannels, triggerMapDisplay, viridis } from './image-maps';
import { crc32, encodePng, toBase64 } from './png';

// Relative luminance (sRGB), to check the colour map is monotone in lightness.
function luminance([r, g, b]: readonly number[]): number {
  const lin = (c: number) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
}

describe('viridis', () => {
  it('hits the matplotlib end points and clamps', () => {
    expect(viridis(0)).toEqual([0x44, 0x01, 0x54]);
    expect(viridis(1)).toEqual([0xfd, 0xe7, 0x25]);
    expect(viridis(0.5)).toEqual([0x21, 0x91, 0x8c]);
    expect(viridis(-3)).toEqual(viridis(0));
    expect(viridis(7)).toEqual(viridis(1));
    expect(viridis(Number.NaN)).toEqual(viridis(0));
  });
  it('gets lighter monotonically (readable without hue, e.g. colour-blind or greyscale)', () => {
    let last = -1;
    for (let t = 0; t <= 1.0001; t += 0.02) {
      const l = luminance(viridis(t));
      expect(l).toBeGreaterThanOrEqual(last - 1e-6);
      last = l;
    }
  });
  it('maps values to RGBA against a max', () => {
    const rgba = heatmapRgba([0, 2, 4], 4);
    expect([...rgba.subarray(0, 4)]).toEqual([...viridis(0), 255]);
    expect([...rgba.subarray(4, 8)]).toEqual([...viridis(0.5), 255]);
    expect([...rgba.subarray(8, 12)]).toEqual([...viridis(1), 255]);
    expect([...heatmapRgba([5], 0)]).toEqual([...viridis(0), 255]);
  });
});

describe('pixel maps', () => {
  it('denormalises with the encoder statistics back to the stored bytes', () => {
    const pre = { mean: [0.5, 0.4, 0.3] as const, std: [0.2, 0.25, 0.3] as const, rescale: 1 / 255 };
    const rgb = [10, 200, 255, 0, 128, 64]; // two pixels
    const chw = new Float32Array(6);
    for (let c = 0; c < 3; c++) for (let i = 0; i < 2; i++) chw[c * 2 + i] = (rgb[i * 3 + c]! * pre.rescale - pre.mean[c]!) / pre.std[c]!;
    expect([...denormalizeToRgb(chw, pre)]).toEqual(rgb);
    // Out-of-range reconstructions clamp.
    expect([...denormalizeToRgb(new Float32Array([100, 100, 100]), pre)]).toEqual([255, 255, 255]);
  });
  it('sums error over channels and overlays at an opacity', () => {
    expect([...sumChannels([1, 2, 10, 20, 100, 200])]).toEqual([111, 222]);
    const rgb = new Uint8Array([100, 100, 100]);
    expect([...overlayHeatmap(rgb, [1], 1, 0)]).toEqual([100, 100, 100]);
    expect([...overlayHeatmap(rgb, [1], 1, 1)]).toEqual(viridis(1));
  });
});

describe('encodePng', () => {
  it('writes PNGs that a real decoder reads back exactly', async () => {
    const w = 5;
    const h = 3;
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const { data, info } = await sharp(Buffer.from(encodePng(rgb, w, h))).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([w, h, 3]);
    expect([...data]).toEqual([...rgb]);
    const rgba = Uint8Array.from({ length: 2 * 2 * 4 }, (_, i) => i * 15);
    const back = await sharp(Buffer.from(encodePng(rgba, 2, 2, 4))).raw().toBuffer({ resolveWithObject: true });
    expect(back.info.channels).toBe(4);
    expect([...back.data]).toEqual([...rgba]);
    expect(() => encodePng(rgb, 4, 4)).toThrow(/expected/);
  });
  it('crc32 and base64 match the platform', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    for (const n of [0, 1, 2, 3, 4, 5, 100]) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 91 + 7) % 256);
      expect(toBase64(b)).toBe(Buffer.from(b).toString('base64'));
    }
  });
});

describe('positive part of a signed map', () => {
  it('clips negatives, scales to the maximum and finds the peak (first on ties) in x, y', () => {
    // 3×2 map: the maximum 0.8 sits at index 4 → x 1, y 1.
    const view = triggerMapDisplay({ diff: Float32Array.from([-0.5, 0.2, 0, 0.4, 0.8, 0.8]), side: 3 });
    expect(view.max).toBeCloseTo(0.8, 6);
    expect(view.peak).toEqual({ x: 1, y: 1 });
    expect(Array.from(view.rgba)).toEqual(Array.from(heatmapRgba([0, 0.2, 0, 0.4, 0.8, 0.8].map(Math.fround), Math.fround(0.8))));
    expect(Array.from(view.rgba.subarray(0, 4))).toEqual(Array.from(view.rgba.subarray(8, 12))); // -0.5 drawn as 0
  });

  it('draws a cluster map only when the cluster has one', () => {
    expect(clusterMapRgba({ triggerMap: null })).toBeNull();
    expect(Array.from(clusterMapRgba({ triggerMap: { map: [-1, 2], side: 2 } })!)).toEqual(Array.from(heatmapRgba([0, 2], 2)));
  });
});
