// The CLI's photo pipeline (sharp decode at full resolution + applyResizePlan + normalise) against
// Pillow and torch run as the Hugging Face processors do (scripts/golden/hf_preprocess.py): the
// uint8 crops, and the embeddings of a 224-px random conv encoder through onnxruntime-node.
import { areaResizeRgb } from '../core/images/area-resize';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePng, pattern } from '../testing/image-files';
import { resizeRgb } from '../core/images/resample';
import { applyResizePlan, exactResizePlan } from '../core/images/resize-plan';
import { comparePixels, cosine, goldenConfigs, goldenCrop, goldenEmbed, goldenEmbedding, goldenPhotoBytes, goldenPhotos, goldenPreprocessing } from '../testing/hf-golden';
import { decodeFullRgb, loadImageFolder } from './node-images';

describe('CLI preprocessing matches Pillow + transformers', () => {
  const photos = goldenPhotos();
  it('has the golden photos', () => {
    expect(photos).toHaveLength(10);
    expect(Object.keys(goldenConfigs())).toEqual(['vit', 'clip', 'convnext', 'short256']);
  });

  for (const name of Object.keys(goldenConfigs())) {
    it(`${name}: crops equal to Pillow's and embeddings at cosine ≥ 0.999 to torch's`, async () => {
      const pre = goldenPreprocessing(name);
      const ours: Uint8Array[] = [];
      const stretched: Uint8Array[] = [];
      let compared = 0;
      for (const photo of photos) {
        const full = await decodeFullRgb(new Uint8Array(goldenPhotoBytes(photo)));
        const rgb = applyResizePlan(full.rgb, full.width, full.height, pre.resize!);
        ours.push(rgb);
        // The old CLI behaviour (the whole photo stretched), to show the embedding check can fail.
        stretched.push(applyResizePlan(full.rgb, full.width, full.height, exactResizePlan({ height: 224, width: 224 }, pre.resize!.resample)));
        const want = await goldenCrop(name, photo);
        if (!want) continue;
        const match = comparePixels(rgb, want);
        // sharp's libjpeg-turbo and libpng decode these photos as Pillow does, CMYK is converted with
        // Pillow's formula and the resampler is Pillow's to the bit: every value matches. The brief's
        // ±1 on 99% is kept as the floor for another decoder build.
        expect(match.within1, `${name} ${photo}: max difference ${match.max}`).toBeGreaterThanOrEqual(0.99);
        expect(match.max, `${name} ${photo}`).toBe(0);
        compared++;
      }
      expect(compared).toBe(name === 'clip' ? 10 : 2);
      const embedded = await goldenEmbed(ours, pre);
      const old = await goldenEmbed(stretched, pre);
      const badlyFramed: string[] = [];
      for (const [i, photo] of photos.entries()) {
        const ref = goldenEmbedding(name, photo);
        expect(cosine(embedded[i]!, ref), `${name} ${photo}`).toBeGreaterThanOrEqual(0.999);
        if (cosine(old[i]!, ref) < 0.999) badlyFramed.push(photo);
      }
      // Stretching instead of cropping is caught on the non-square photos (ViT stretches anyway).
      if (name === 'vit') expect(badlyFramed).toEqual([]);
      else expect(badlyFramed.length).toBeGreaterThanOrEqual(5);
    });
  }
});

describe('loadImageFolder with a resize plan', () => {
  it('loads photos at the plan size, area-averages for the decoder, and lists slivers with a reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dede-plan-'));
    try {
      writeFileSync(join(dir, 'wide.png'), encodePng(300, 200, pattern(300, 200, 3)));
      writeFileSync(join(dir, 'sliver.png'), encodePng(1, 8000, pattern(1, 8000, 5)));
      const pre = goldenPreprocessing('clip');
      const enc = await loadImageFolder(dir, pre);
      expect(enc.paths).toEqual(['wide.png']);
      expect(enc.unreadable).toEqual([{ path: 'sliver.png', reason: expect.stringMatching(/^unusable shape: A 1×8000 photo would resize to 224×1792000/) as unknown as string }]);
      const full = await decodeFullRgb(new Uint8Array(encodePng(300, 200, pattern(300, 200, 3))));
      expect(enc.rgb).toEqual(applyResizePlan(full.rgb, 300, 200, pre.resize!));
      // The decoder's 32-px view is the encoder's crop, area-averaged (224 = 7 × 32).
      const dec = await loadImageFolder(dir, { ...pre, height: 32, width: 32 });
      expect(dec.rgb).toEqual(areaResizeRgb(enc.rgb, 224, 224, 32, 32));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
