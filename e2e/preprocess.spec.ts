// Preprocessing in the browser matches Pillow + transformers: the golden photos (JPEG, PNG, EXIF
// orientation, greyscale, palette, RGBA, CMYK, 16-bit) are dropped on the Images step at 224 px with
// each of four encoder resize plans, go through the real image worker pool and storage, and the
// stored pixels are compared with Pillow's crops and, through the fixture encoder, with torch's
// embeddings (scripts/golden/hf_preprocess.py).
import type {} from '../src/app/backend/debug-handle';
import { comparePixels, cosine, goldenConfigs, goldenCrop, goldenEmbed, goldenEmbedding, goldenPhotoBytes, goldenPhotos, goldenPreprocessing, GOLDEN_SIDE } from '../src/testing/hf-golden';
import { encodePng, pattern } from '../src/testing/image-files';
import { dropFolder } from './drop';
import { expect, test } from './fixtures';

test('photos dropped with an encoder resize plan are preprocessed as the Hugging Face processor does', async ({ page, guard }) => {
  void guard;
  await page.goto('/');
  await page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: 'Images' }).click();
  await page.getByLabel('Working resolution').selectOption(String(GOLDEN_SIDE));
  const photos = goldenPhotos();
  const files = photos.map((p) => ({ path: p, bytes: goldenPhotoBytes(p) }));
  const plane = GOLDEN_SIDE * GOLDEN_SIDE * 3;
  const report: string[] = [];
  for (const [name, config] of Object.entries(goldenConfigs())) {
    const description = await page.evaluate((c) => window.dedeDebug!.setResizePlan(c), config);
    expect(description).toBe(goldenPreprocessing(name).resize!.description);
    await expect(page.getByTestId('images-resize-plan')).toContainText(description!);
    const folder = `golden-${name}`;
    // A 1×8000 sliver would scale up to 224×1792000 by its short edge: listed, not decoded.
    const sliver = name === 'clip' ? [{ path: 'sliver.png', bytes: encodePng(1, 8000, pattern(1, 8000, 5)) }] : [];
    await dropFolder(page, page.getByTestId('images-drop'), folder, [...files, ...sliver]);
    const card = page.locator(`[data-testid="dataset"][data-dataset-name="${folder}"]`);
    await expect(card).toHaveAttribute('data-status', 'ready');
    await expect(card.getByTestId('count-images')).toHaveText(String(photos.length));
    await expect(card.getByTestId('count-unreadable')).toHaveText(String(sliver.length));
    if (sliver.length > 0) await expect(card.getByTestId('unreadable-list')).toContainText('unusable shape: A 1×8000 photo would resize to 224×1792000');
    const stored = await page.evaluate((n) => window.dedeDebug!.datasetPixels(n), folder);
    expect(stored.size).toBe(GOLDEN_SIDE);
    const rgb = new Uint8Array(Buffer.from(stored.rgbBase64, 'base64'));
    const byPhoto = new Map(stored.paths.map((p, slot) => [p.split('/').pop()!, rgb.subarray(slot * plane, (slot + 1) * plane)]));
    expect([...byPhoto.keys()].sort()).toEqual(photos);
    const ours = photos.map((p) => byPhoto.get(p)!);
    const embedded = await goldenEmbed(ours, goldenPreprocessing(name));
    for (const [i, photo] of photos.entries()) {
      const want = await goldenCrop(name, photo);
      const cos = cosine(embedded[i]!, goldenEmbedding(name, photo));
      const match = want ? comparePixels(ours[i]!, want) : null;
      report.push(`${name} ${photo}: cosine ${cos.toFixed(6)}${match ? `, ±1 on ${(match.within1 * 100).toFixed(2)}%, max ${match.max}` : ''}`);
      expect(cos, `${name} ${photo}`).toBeGreaterThanOrEqual(0.999);
      // Chromium's decoders (libjpeg-turbo, its own PNG and CMYK paths) may round differently from
      // Pillow's by a grey level; the resize itself is the same code as the CLI's.
      if (match) expect(match.within1, `${name} ${photo}: max difference ${match.max}`).toBeGreaterThanOrEqual(0.99);
    }
  }
  console.log(report.join('\n'));
  // Clearing the plan gives the Images step back its own framing.
  await page.evaluate(() => window.dedeDebug!.setResizePlan(null));
  await expect(page.getByTestId('images-resize-plan')).toHaveCount(0);
});
