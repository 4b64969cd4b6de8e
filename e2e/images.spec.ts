// Images step: a nested folder of good, corrupt, zero-byte and non-image files, added through the
// folder input (setInputFiles on a directory) and through a simulated drop with a real
// DataTransfer; counts, the error list with reasons, the duplicate, roles, and a reload.
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from '@playwright/test';
import { encodeBmp, encodePng, pattern, pngHeaderOnly, TINY_GIF } from '../src/testing/image-files';
import { dropFolder } from './drop';
import { expect, test } from './fixtures';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'images');

/** JPEG and WebP bytes encoded by the browser itself (Node has no encoder for them). */
async function browserEncoded(page: Page): Promise<{ jpeg: Buffer; webp: Buffer }> {
  const [jpeg, webp] = await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(48, 32);
    const ctx = canvas.getContext('2d')!;
    const g = ctx.createLinearGradient(0, 0, 48, 32);
    g.addColorStop(0, '#c03020');
    g.addColorStop(1, '#2040d0');
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, 48, 32);
    const bytes = async (type: string) => Array.from(new Uint8Array(await (await canvas.convertToBlob({ type, quality: 0.9 })).arrayBuffer()));
    return [await bytes('image/jpeg'), await bytes('image/webp')];
  });
  return { jpeg: Buffer.from(jpeg), webp: Buffer.from(webp) };
}

const GRADIENT = pattern(32, 32, 3);

interface Built {
  readonly root: string;
  readonly folder: string;
  readonly files: number;
  readonly images: number;
  readonly unreadable: Record<string, RegExp>;
}

/** Writes <tmp>/<name>/… and returns what the app should find in it. */
function buildFolder(name: string, enc: { jpeg: Buffer; webp: Buffer }): Built {
  const root = mkdtempSync(join(tmpdir(), 'dede-images-'));
  const put = (path: string, bytes: Uint8Array) => {
    const full = join(root, name, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, bytes);
  };
  const cat = readFileSync(join(FIXTURES, 'cifar-cat.png'));
  put('cifar/cat/cat-1.png', cat);
  put('cifar/cat/nested/deeper/frog-1.png', readFileSync(join(FIXTURES, 'cifar-frog.png')));
  put('cifar/ship-1.png', readFileSync(join(FIXTURES, 'cifar-ship.png')));
  put('cifar/airplane-1.png', readFileSync(join(FIXTURES, 'cifar-airplane.png')));
  put('made/gradient.png', encodePng(32, 32, GRADIENT));
  put('made/wide.png', encodePng(40, 30, pattern(40, 30, 5)));
  put('made/photo.jpg', enc.jpeg);
  put('made/pic.webp', enc.webp);
  put('made/tiny.gif', TINY_GIF);
  put('made/plain.bmp', encodeBmp(32, 32, pattern(32, 32, 9)));
  put('made/mislabeled.png', Buffer.concat([enc.jpeg, Buffer.from('trailing bytes after the end of the image')]));
  put('copy-of-cat.png', cat);
  const unreadable: Record<string, RegExp> = {
    'bad/broken.png': /^corrupt PNG: the browser could not decode it \(the file ends early: an interrupted download or copy\? fetch or copy it again\)$/,
    'bad/truncated.jpg': /^corrupt JPEG: the browser could not decode it \(the file ends early: an interrupted download or copy\? fetch or copy it again\)$/,
    'bad/empty.png': /^empty file \(0 bytes\)$/,
    'bad/notes.txt': /^not an image \(looks like text\)$/,
    'bad/report.pdf': /^not an image \(looks like a PDF\)$/,
    'bad/huge.png': /^image is 16384×16384, larger than the 8192 px limit$/,
  };
  put('bad/broken.png', Buffer.concat([cat.subarray(0, 33), Buffer.alloc(200, 0x5a)]));
  put('bad/truncated.jpg', enc.jpeg.subarray(0, 20));
  put('bad/empty.png', new Uint8Array(0));
  put('bad/notes.txt', Buffer.from('These are my notes about the dataset.\nNothing to see here.\n'));
  put('bad/report.pdf', Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n'));
  put('bad/huge.png', pngHeaderOnly(16384, 16384));
  return { root, folder: join(root, name), files: 18, images: 12, unreadable };
}

function listFiles(dir: string, base = dir): { path: string; bytes: Buffer }[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, base) : [{ path: relative(base, full).split('\\').join('/'), bytes: readFileSync(full) }];
  });
}

async function expectDataset(card: Locator, built: Built): Promise<void> {
  await expect(card).toHaveAttribute('data-status', 'ready');
  await expect(card.getByTestId('count-files')).toHaveText(String(built.files));
  await expect(card.getByTestId('count-images')).toHaveText(String(built.images));
  await expect(card.getByTestId('count-unreadable')).toHaveText(String(Object.keys(built.unreadable).length));
  await expect(card.getByTestId('count-duplicates')).toHaveText('1');
  const rows = card.getByTestId('unreadable-list').locator('tbody tr');
  await expect(rows).toHaveCount(Object.keys(built.unreadable).length);
  const name = (await card.getAttribute('data-dataset-name'))!;
  for (const [path, reason] of Object.entries(built.unreadable)) {
    const row = rows.filter({ hasText: `${name}/${path}` });
    await expect(row).toHaveCount(1);
    await expect(row.locator('td').nth(2)).toHaveText(new RegExp(`${reason.source.slice(1, -1)}`));
  }
  await expect(card.getByTestId('duplicate-list')).toContainText(`${name}/cifar/cat/cat-1.png is repeated as ${name}/copy-of-cat.png`);
  await expect(card).toContainText(`${name}/made/mislabeled.png — named .png but is a JPEG image`);
  const thumbs = card.getByRole('list', { name: `Thumbnails of ${name}` }).getByRole('img');
  await expect(thumbs).toHaveCount(built.images);
  // The stored pixels are the image: the 32×32 gradient comes back unchanged (RGB order, no flip).
  const drawn = await card.getByRole('img', { name: new RegExp(`^${name}/made/gradient\\.png`) }).evaluate((c) => {
    const canvas = c as HTMLCanvasElement;
    return Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data);
  });
  let maxDiff = 0;
  for (let i = 0; i < 32 * 32; i++) for (let ch = 0; ch < 3; ch++) maxDiff = Math.max(maxDiff, Math.abs(drawn[i * 4 + ch]! - GRADIENT[i * 3 + ch]!));
  expect(maxDiff).toBeLessThanOrEqual(2);
}

test('a folder added with the folder input and one dropped with a DataTransfer load with counts, reasons, duplicates and roles; a reload restores them', async ({ page, guard }) => {
  void guard;
  await page.goto('/');
  await page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: 'Images' }).click();
  const enc = await browserEncoded(page);
  const suspect = buildFolder('downloads', enc);
  const clean = buildFolder('clean-reference', enc);
  try {
    // Route 1: the directory input, as a folder picker fills it.
    await page.getByTestId('images-folder-input').setInputFiles(suspect.folder);
    const suspectCard = page.locator('[data-testid="dataset"][data-dataset-name="downloads"]');
    await expectDataset(suspectCard, suspect);
    await expect(suspectCard.getByLabel('Role')).toHaveValue('suspect');

    // Route 2: a drop. webkitGetAsEntry gives nothing for synthetic items, so the app falls back
    // to dataTransfer.files and their relative paths.
    await dropFolder(page, page.getByTestId('images-drop'), 'clean-reference', listFiles(clean.folder));
    const cleanCard = page.locator('[data-testid="dataset"][data-dataset-name="clean-reference"]');
    await expectDataset(cleanCard, clean);
    await expect(cleanCard.getByLabel('Role')).toHaveValue('clean');

    await suspectCard.getByLabel('Role').selectOption({ label: 'Known poisoned (evaluation only)' });
    await page.screenshot({ path: 'test-results/screens/images-loaded.png', fullPage: true });

    await page.reload();
    await expect(page.getByTestId('dataset')).toHaveCount(2);
    await expectDataset(suspectCard, suspect);
    await expectDataset(cleanCard, clean);
    await expect(suspectCard.getByLabel('Role')).toHaveValue('poisoned');
    await expect(cleanCard.getByLabel('Role')).toHaveValue('clean');
    // Restored from the browser's private copy: no folder access is asked for again.
    await expect(cleanCard).toContainText('a reload restores the folder without asking for access to it again');
    await page.screenshot({ path: 'test-results/screens/images-restored.png', fullPage: true });

    // Removing a dataset deletes it from the list and from storage.
    await cleanCard.getByRole('button', { name: 'Remove clean-reference' }).click();
    await expect(page.getByTestId('dataset')).toHaveCount(1);
    const left = await page.evaluate(async () => {
      const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('dede-datasets');
      const names: string[] = [];
      for await (const [name] of (root as unknown as { entries(): AsyncIterable<[string, unknown]> }).entries()) names.push(name);
      return names.length;
    });
    expect(left).toBe(1);
  } finally {
    rmSync(suspect.root, { recursive: true, force: true });
    rmSync(clean.root, { recursive: true, force: true });
  }
});

test('loading shows progress with a count and can be cancelled, keeping what was loaded', async ({ page, guard }) => {
  void guard;
  const root = mkdtempSync(join(tmpdir(), 'dede-images-many-'));
  try {
    mkdirSync(join(root, 'many'));
    for (let i = 0; i < 3000; i++) writeFileSync(join(root, 'many', `img-${String(i).padStart(4, '0')}.png`), encodePng(32, 32, pattern(32, 32, i), 1));
    await page.goto('/');
    await page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: 'Images' }).click();
    await page.getByTestId('images-folder-input').setInputFiles(join(root, 'many'));
    const progress = page.getByTestId('images-progress');
    await expect(progress).toContainText(/of 3,000 files · \d+%/);
    await expect.poll(async () => Number(await progress.getAttribute('data-done'))).toBeGreaterThan(0);
    await page.screenshot({ path: 'test-results/screens/images-progress.png' });
    await progress.getByRole('button', { name: 'Cancel' }).click();
    const card = page.getByTestId('dataset');
    await expect(card).toHaveAttribute('data-status', 'cancelled');
    const images = Number((await card.getByTestId('count-images').textContent())!.replace(/,/g, ''));
    expect(images).toBeGreaterThan(0);
    expect(images).toBeLessThan(3000);
    await expect(card.getByRole('list', { name: 'Thumbnails of many' }).getByRole('img')).toHaveCount(Math.min(images, 120));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
