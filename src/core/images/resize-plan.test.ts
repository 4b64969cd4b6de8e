// The resize plan and the resampler against Pillow and transformers' arithmetic, as computed by
// scripts/golden/hf_preprocess.py (sizes.json, resample.json).
import { areaResizeRgb } from './area-resize';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preprocessingFromHf, resizePlanOf } from './preprocess';
import { centerCropRgb, PIL_RESAMPLE, resizeRgb } from './resample';
import { applyResizePlan, exactResizePlan, planAtSize, resizePlanFromHf, resizeSteps } from './resize-plan';

const GOLDEN = join(import.meta.dirname, '__golden__');
const readJson = <T>(name: string): T => JSON.parse(readFileSync(join(GOLDEN, name), 'utf8')) as T;

interface SizeCase {
  config: string;
  width: number;
  height: number;
  resize: { height: number; width: number };
  crop?: { height: number; width: number; top: number; left: number };
}

describe('resize arithmetic matches transformers (sizes.json)', () => {
  const { configs, cases } = readJson<{ configs: Record<string, Record<string, unknown>>; cases: SizeCase[] }>('sizes.json');
  it('covers int truncation, crop_pct, longest_edge, padding crops', () => {
    expect(cases.length).toBeGreaterThan(150);
    expect(new Set(cases.map((c) => c.config))).toEqual(new Set(Object.keys(configs)));
  });
  for (const name of Object.keys(configs)) {
    it(name, () => {
      const plan = resizePlanFromHf(configs[name]!, null);
      for (const c of cases.filter((k) => k.config === name)) {
        const label = `${name} ${c.width}×${c.height}`;
        if (c.resize.height < 1 || c.resize.width < 1) {
          expect(() => resizeSteps(plan, c.width, c.height), label).toThrow(/too thin/);
          continue;
        }
        const steps = resizeSteps(plan, c.width, c.height);
        expect(steps.resize, label).toEqual(c.resize);
        expect(steps.crop, label).toEqual(c.crop ? { top: c.crop.top, left: c.crop.left, height: c.crop.height, width: c.crop.width } : null);
      }
    });
  }
  it('pins a few by hand', () => {
    const clip = resizePlanFromHf({ image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 224 }, crop_size: 224, resample: 3 }, null);
    // 224 · 500 / 333 = 336.34 → 336 (truncated, not rounded); crop offsets (336 − 224) // 2.
    expect(resizeSteps(clip, 333, 500)).toEqual({ resize: { width: 224, height: 336 }, crop: { top: 56, left: 0, height: 224, width: 224 } });
    const convnext = resizePlanFromHf({ image_processor_type: 'ConvNextImageProcessor', size: { shortest_edge: 224 }, crop_pct: 0.9 }, null);
    // int(224 / 0.9) = 248; 248 · 640 / 427 = 371.7 → 371.
    expect(resizeSteps(convnext, 640, 427)).toEqual({ resize: { width: 371, height: 248 }, crop: { top: 12, left: 73, height: 224, width: 224 } });
    const sam = resizePlanFromHf({ size: { longest_edge: 224 }, crop_size: 224, resample: 2 }, null);
    // 1920×1080 → 224 × 126 (126.0 rounds half up); the 224 crop pads 98 rows: window top (126 − 224) // 2 = −49.
    expect(resizeSteps(sam, 1920, 1080)).toEqual({ resize: { width: 224, height: 126 }, crop: { top: -49, left: 0, height: 224, width: 224 } });
    // 1 × 8000 → 224 × 1,792,000: refused, not allocated.
    expect(() => resizeSteps(clip, 1, 8000)).toThrow(/1×8000 photo would resize to 224×1792000: it is too thin/);
  });
});

describe('resizePlanFromHf', () => {
  it('reads processor-type defaults: int size, resample', () => {
    const clip = resizePlanFromHf({ feature_extractor_type: 'CLIPFeatureExtractor', size: 224, crop_size: 224, do_center_crop: true }, null);
    expect(clip.resize).toEqual({ kind: 'shortest-edge', shortestEdge: 224, longestEdge: null });
    expect(clip.resample).toBe('bicubic');
    expect(clip.notes).toEqual(['resample not given: bicubic, the CLIPFeatureExtractor default']);
    expect(clip.description).toBe('resize short edge to 224 (bicubic), centre crop 224×224');
    const vit = resizePlanFromHf({ image_processor_type: 'ViTImageProcessor', size: 224 }, null);
    expect(vit.resize).toEqual({ kind: 'exact', height: 224, width: 224 });
    expect(vit.resample).toBe('bilinear');
    const unknown = resizePlanFromHf({ size: { height: 32, width: 32 } }, null);
    expect(unknown.notes[0]).toMatch(/not named: bilinear assumed/);
    expect(resizePlanFromHf({ size: 32, resample: 3 }, null).notes).toEqual([]);
  });
  it('ConvNext crop_pct: below 384 resize and crop, at 384 warp', () => {
    const p = resizePlanFromHf({ image_processor_type: 'ConvNextImageProcessor', size: { shortest_edge: 224 }, crop_pct: 0.875, resample: 3 }, null);
    expect(p.description).toBe('crop_pct 0.875: resize short edge to 256 (bicubic), centre crop 224×224');
    const big = resizePlanFromHf({ image_processor_type: 'ConvNextImageProcessor', size: { shortest_edge: 384 }, crop_pct: 0.875, resample: 3 }, null);
    expect([big.resize, big.crop]).toEqual([{ kind: 'exact', height: 384, width: 384 }, null]);
  });
  it('keeps one output size when the config would not', () => {
    const p = resizePlanFromHf({ size: { shortest_edge: 224 }, do_center_crop: false, resample: 2 }, null);
    expect([p.crop, p.height, p.width]).toEqual([{ height: 224, width: 224 }, 224, 224]);
    expect(p.notes[0]).toMatch(/centre crop/);
    const off = resizePlanFromHf({ do_resize: false, resample: 2 }, { height: 64, width: 64 });
    expect(off.resize).toEqual({ kind: 'exact', height: 64, width: 64 });
  });
  it('names the bad key', () => {
    expect(() => resizePlanFromHf({ size: 'big' }, null)).toThrow(/"size"/);
    expect(() => resizePlanFromHf({ size: 224, resample: 9 }, null)).toThrow(/"resample"/);
    expect(() => resizePlanFromHf({ size: { shortest_edge: 224, longest_edge: 200 } }, null)).toThrow(/longest_edge 200/);
    expect(() => resizePlanFromHf({ size: { shortest_edge: 224 }, crop_pct: 1.5 }, null)).toThrow(/crop_pct/);
    expect(() => preprocessingFromHf({ size: { shortest_edge: 0 } }, null)).toThrow(/"size"/);
  });
  it('fills Preprocessing; old records without a plan stretch', () => {
    const p = preprocessingFromHf({ image_processor_type: 'BitImageProcessor', size: { shortest_edge: 256 }, crop_size: { height: 224, width: 224 }, do_center_crop: true }, null);
    expect([p.height, p.width, p.resize?.description]).toEqual([224, 224, 'resize short edge to 256 (bicubic), centre crop 224×224']);
    expect(p.origin).toBe('preprocessor_config.json; resample not given: bicubic, the BitImageProcessor default');
    expect(resizePlanOf({ height: 32, width: 48 })).toMatchObject({ resize: { kind: 'exact', height: 32, width: 48 }, crop: null, resample: 'bilinear' });
  });
});

describe('resizeRgb is Pillow bit for bit (resample.json)', () => {
  const golden = readJson<{ sources: Record<string, string>; cases: { source: string; width: number; height: number; resample: number; rgb: string }[] }>('resample.json');
  const sources = Object.fromEntries(Object.entries(golden.sources).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]));
  for (const code of [0, 1, 2, 3, 4, 5]) {
    it(`${PIL_RESAMPLE[code]} (${code})`, () => {
      const cases = golden.cases.filter((c) => c.resample === code);
      expect(cases.length).toBe(10);
      for (const c of cases) {
        const [sw, sh] = c.source.split('x').map(Number) as [number, number];
        const got = resizeRgb(sources[c.source]!, sw, sh, c.width, c.height, PIL_RESAMPLE[code]!);
        const want = new Uint8Array(Buffer.from(c.rgb, 'base64'));
        let diff = 0;
        for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
        expect(diff, `${c.source} → ${c.width}×${c.height}`).toBe(0);
      }
    });
  }
  it('reads RGBA with alpha ignored', () => {
    const rgb = sources['13x9']!;
    const rgba = new Uint8Array(13 * 9 * 4);
    for (let i = 0; i < 13 * 9; i++) rgba.set([rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!, i % 256], i * 4);
    expect(resizeRgb(rgba, 13, 9, 5, 4, 'bicubic', 4)).toEqual(resizeRgb(rgb, 13, 9, 5, 4, 'bicubic'));
  });
});

describe('applyResizePlan', () => {
  const ramp = (w: number, h: number) => Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7) % 256);
  it('crops the centre and pads with zeros when the crop is larger', () => {
    const src = ramp(4, 2);
    const out = centerCropRgb(src, 4, 2, 2, 4);
    // window top (2 − 4) // 2 = −1, left (4 − 2) // 2 = 1
    expect(Array.from(out.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(out.subarray(6, 12))).toEqual(Array.from(src.subarray(3, 9)));
    expect(Array.from(out.subarray(18))).toEqual([0, 0, 0, 0, 0, 0]);
  });
  it('resizes, crops and downsamples for the decoder', () => {
    const plan = resizePlanFromHf({ size: { shortest_edge: 16 }, crop_size: 8, resample: 2 }, null);
    const src = ramp(40, 20);
    const full = applyResizePlan(src, 40, 20, plan);
    expect(full.length).toBe(8 * 8 * 3);
    const resized = resizeRgb(src, 40, 20, 32, 16, 'bilinear');
    expect(full).toEqual(centerCropRgb(resized, 32, 16, 8, 8));
    const small = planAtSize(plan, { height: 4, width: 4 });
    expect(small.description).toBe('resize short edge to 16 (bilinear), centre crop 8×8, then area-average to 4×4');
    expect(applyResizePlan(src, 40, 20, small)).toEqual(areaResizeRgb(full, 8, 8, 4, 4));
    expect(planAtSize(small, { height: 8, width: 8 }).description).toBe('resize short edge to 16 (bilinear), centre crop 8×8');
    // A plain stretch is redone at the new size rather than stretched twice.
    expect(planAtSize(exactResizePlan({ height: 8, width: 8 }, 'lanczos'), { height: 4, width: 4 })).toMatchObject({ resize: { kind: 'exact', height: 4, width: 4 }, downsample: null });
  });
});
