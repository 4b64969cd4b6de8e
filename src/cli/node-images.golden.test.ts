// The CLI's photo pipeline (sharp decode at full resolution + applyResizePlan + normalise) against
// Pillow and torch run as the Hugging Face processors do (scripts/golden/hf_preprocess.py): the
// uint8 crops, and the embeddings of a 224-px random conv encoder through onnxruntime-node.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { normalizeRgb, preprocessingFromHf, type Preprocessing } from '../core/images/preprocess';
import { applyResizePlan, exactResizePlan } from '../core/images/resize-plan';
import { decodeFullRgb } from './node-images';

const GOLDEN = join(import.meta.dirname, '..', 'core', 'images', '__golden__');
const configs = JSON.parse(readFileSync(join(GOLDEN, 'configs.json'), 'utf8')) as Record<string, Record<string, unknown>>;
const golden = JSON.parse(readFileSync(join(GOLDEN, 'embeddings.json'), 'utf8')) as { embeddings: Record<string, Record<string, number[]>> };
const photos = readdirSync(join(GOLDEN, 'photos')).sort();

async function pngRgb(path: string): Promise<Uint8Array> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${path}: ${info.channels} channels`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

async function embed(session: ort.InferenceSession, batch: Float32Array, n: number): Promise<Float32Array[]> {
  const out = await session.run({ pixel_values: new ort.Tensor('float32', batch, [n, 3, 224, 224]) });
  const data = out['pooler_output']!.data as Float32Array;
  const dim = data.length / n;
  return Array.from({ length: n }, (_, i) => data.slice(i * dim, (i + 1) * dim));
}

describe('CLI preprocessing matches Pillow + transformers', () => {
  it('has the golden photos', () => {
    expect(photos).toHaveLength(10);
    expect(Object.keys(configs)).toEqual(['vit', 'clip', 'convnext', 'short256']);
  });

  for (const [name, config] of Object.entries(configs)) {
    it(`${name}: crops within ±1 of Pillow's and embeddings at cosine ≥ 0.999 to torch's`, async () => {
      const pre: Preprocessing = preprocessingFromHf(config, null);
      const session = await ort.InferenceSession.create(join(GOLDEN, 'encoder.onnx'));
      const batch = new Float32Array(photos.length * 3 * 224 * 224);
      const stretched = new Float32Array(photos.length * 3 * 224 * 224);
      const crops = new Set(readdirSync(join(GOLDEN, 'crops', name)));
      let compared = 0;
      for (const [i, photo] of photos.entries()) {
        const full = await decodeFullRgb(new Uint8Array(readFileSync(join(GOLDEN, 'photos', photo))));
        const rgb = applyResizePlan(full.rgb, full.width, full.height, pre.resize!);
        normalizeRgb(rgb, pre, batch.subarray(i * 3 * 224 * 224, (i + 1) * 3 * 224 * 224));
        // The old CLI behaviour (the whole photo stretched), to show the embedding check can fail.
        normalizeRgb(applyResizePlan(full.rgb, full.width, full.height, exactResizePlan({ height: 224, width: 224 }, pre.resize!.resample)), pre, stretched.subarray(i * 3 * 224 * 224, (i + 1) * 3 * 224 * 224));
        const cropName = photo.replace(/\.[a-z]+$/, '.png');
        if (!crops.has(cropName)) continue;
        const want = await pngRgb(join(GOLDEN, 'crops', name, cropName));
        expect(rgb.length, photo).toBe(want.length);
        let within1 = 0;
        let max = 0;
        for (let k = 0; k < want.length; k++) {
          const d = Math.abs(rgb[k]! - want[k]!);
          if (d <= 1) within1++;
          max = Math.max(max, d);
        }
        // sharp's libjpeg-turbo and libpng decode these photos exactly as Pillow does, and the resampler
        // is Pillow's to the bit, so every value matches; ±1 on 99% leaves room for another decoder build.
        expect(within1 / want.length, `${name} ${photo}: max difference ${max}`).toBeGreaterThanOrEqual(0.99);
        expect(max, `${name} ${photo}`).toBe(0);
        compared++;
      }
      expect(compared).toBe(crops.size);
      const ours = await embed(session, batch, photos.length);
      const old = await embed(session, stretched, photos.length);
      await session.release();
      const badlyFramed: string[] = [];
      for (const [i, photo] of photos.entries()) {
        const ref = golden.embeddings[name]![photo]!;
        expect(cosine(ours[i]!, ref), `${name} ${photo}`).toBeGreaterThanOrEqual(0.999);
        if (cosine(old[i]!, ref) < 0.999) badlyFramed.push(photo);
      }
      // Stretching instead of cropping is caught on the non-square photos (ViT stretches anyway).
      if (name === 'vit') expect(badlyFramed).toEqual([]);
      else expect(badlyFramed.length).toBeGreaterThanOrEqual(5);
    });
  }
});
