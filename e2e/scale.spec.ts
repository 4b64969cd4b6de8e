// Scale guard (Issue 7): what the page keeps per scanned image must stay small. One session loads a
// 500-image and a 3,000-image folder, scans and exports the 500 (the 3,000 set aside as a second
// clean reference), then scans and exports all 3,500. Between the two, after a forced GC, the JS
// heap may grow by at most PER_IMAGE_LIMIT_B per extra scanned image (an object per row, as the
// scan store held before, measured ~280 B here; with columns ~125 B), and the
// exports must be complete. `npm run bench:scale` measures the same up to 20k images.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { HeapProbe, MB } from '../bench/lib/browser';
import { encodePng } from '../src/testing/image-files';
import { expect, test } from './fixtures';
import { addFolder, loadLocalEncoder, nav, trainAndCalibrate, writeEncoderFolder } from './workflow-steps';

const PER_IMAGE_LIMIT_B = 200;
const root = mkdtempSync(join(tmpdir(), 'dede-scale-e2e-'));
const encoderFiles = writeEncoderFolder(join(root, 'encoder'));

function picture(seed: number): Uint8Array {
  const px = new Uint8Array(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) px[p * 3 + c] = Math.round(127 + 120 * Math.sin((p % 32) / (3 + c + (seed % 7)) + seed * 0.37 + Math.cos(p / (50 + (seed % 13)))));
  return px;
}

function folder(name: string, count: number, seed0: number): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(dir, `img-${String(i).padStart(4, '0')}.png`), encodePng(32, 32, picture(seed0 + i), 1));
  return dir;
}

async function scanAndExport(page: Page, images: number): Promise<void> {
  await nav(page, 'Scan').click();
  await page.getByRole('main').getByRole('button', { name: /^Scan( again)?$/ }).click();
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(page.getByTestId('scan-done')).toHaveText(images.toLocaleString('en'));
  await nav(page, 'Report').click();
  const text = async (button: string) => {
    const d = page.waitForEvent('download');
    await page.getByRole('button', { name: button }).click();
    return readFileSync(await (await d).path(), 'utf8');
  };
  const csv = await text('Download CSV');
  const json = JSON.parse(await text('Download JSON')) as { images: { path: string; flagged: boolean }[] };
  const list = await text('Download list');
  expect(csv.trimEnd().split('\r\n')).toHaveLength(images + 1);
  expect(json.images).toHaveLength(images);
  expect(list.split('\n').filter(Boolean)).toEqual(json.images.filter((i) => !i.flagged).map((i) => i.path));
}

test('the page keeps a few tens of bytes per scanned image: 3,500 vs 500 images, scanned and exported', async ({ page, guard }) => {
  void guard;
  test.setTimeout(600_000);
  const clean = folder('clean-reference', 120, 0);
  const small = folder('suspect-a', 500, 1000);
  const big = folder('suspect-b', 3000, 5000);
  await page.goto('/?ep=wasm');
  const probe = await HeapProbe.attach(page);
  await loadLocalEncoder(page, encoderFiles);
  await nav(page, 'Images').click();
  await addFolder(page, clean, 'clean-reference', 120);
  await addFolder(page, small, 'suspect-a', 500);
  await trainAndCalibrate(page);

  // Both folders are loaded before either measurement, so the Images step costs the same in both.
  await nav(page, 'Images').click();
  await addFolder(page, big, 'suspect-b', 3000);
  const role = page.locator('[data-dataset-name="suspect-b"]').getByLabel('Role');
  await role.selectOption('clean');
  await scanAndExport(page, 500);
  const at500 = (await probe.afterGc()).heap;
  await nav(page, 'Images').click();
  await role.selectOption('suspect');
  await scanAndExport(page, 3500);
  const at3500 = (await probe.afterGc()).heap;

  const perImage = (at3500 - at500) / 3000;
  console.log(`JS heap after GC: ${(at500 / MB).toFixed(2)} MB with 500 images scanned and exported, ${(at3500 / MB).toFixed(2)} MB with 3,500: ${perImage.toFixed(0)} B per extra image`);
  expect(perImage).toBeLessThan(PER_IMAGE_LIMIT_B);
});
