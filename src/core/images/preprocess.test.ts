import { describe, expect, it } from 'vitest';
import { normalizeRgba, preprocessingFromHf } from './preprocess';

describe('preprocessingFromHf', () => {
  it('reads a CLIP-style config with crop size', () => {
    const p = preprocessingFromHf(
      { do_resize: true, size: { shortest_edge: 224 }, do_center_crop: true, crop_size: { height: 224, width: 224 }, image_mean: [0.4815, 0.4578, 0.4082], image_std: [0.2686, 0.2613, 0.2758], rescale_factor: 0.00392156862745098 },
      null,
    );
    expect(p).toMatchObject({ height: 224, width: 224, mean: [0.4815, 0.4578, 0.4082], std: [0.2686, 0.2613, 0.2758] });
    expect(p.rescale).toBeCloseTo(1 / 255, 12);
  });
  it('honours do_normalize / do_rescale false and falls back to the model size', () => {
    expect(preprocessingFromHf({ do_normalize: false, do_rescale: false }, { height: 32, width: 32 })).toMatchObject({
      height: 32, width: 32, rescale: 1, mean: [0, 0, 0], std: [1, 1, 1],
    });
  });
  it('accepts an int size and scalar mean/std', () => {
    expect(preprocessingFromHf({ size: 32, image_mean: 0.5, image_std: 0.5 }, null)).toMatchObject({ height: 32, width: 32, mean: [0.5, 0.5, 0.5] });
  });
  it('rejects bad configs with the key named', () => {
    expect(() => preprocessingFromHf({ size: 32, image_mean: [1, 2] }, null)).toThrow(/image_mean/);
    expect(() => preprocessingFromHf({}, null)).toThrow(/no image size/);
    expect(() => preprocessingFromHf([], null)).toThrow(/not a JSON object/);
    expect(() => preprocessingFromHf({ size: 8, image_std: [1, 0, 1] }, null)).toThrow(/contains 0/);
  });
});

describe('normalizeRgba', () => {
  it('produces planar CHW with (x/255 - mean)/std', () => {
    const p = preprocessingFromHf({ size: { height: 1, width: 2 }, image_mean: [0.5, 0.25, 0], image_std: [0.5, 0.25, 1] }, null);
    const out = normalizeRgba(Uint8Array.from([255, 0, 51, 255, 0, 255, 102, 7]), p);
    const expected = [(1 - 0.5) / 0.5, (0 - 0.5) / 0.5, (0 - 0.25) / 0.25, (1 - 0.25) / 0.25, 0.2, 0.4];
    expected.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });
});

describe('normalizeRgb', () => {
  it('matches normalizeRgba on the same pixels', async () => {
    const { normalizeRgb } = await import('./preprocess');
    const p = preprocessingFromHf({ size: { height: 1, width: 2 }, image_mean: [0.5, 0.25, 0], image_std: [0.5, 0.25, 1] }, null);
    expect(Array.from(normalizeRgb(Uint8Array.from([255, 0, 51, 0, 255, 102]), p))).toEqual(Array.from(normalizeRgba(Uint8Array.from([255, 0, 51, 255, 0, 255, 102, 7]), p)));
  });
});
