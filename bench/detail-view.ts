// Detail-view latency in the built app (issue 17 item 4; docs/ARCHITECTURE.md §3.3): with the demo's
// BadEncoder, a clean reference of CIFAR-10 photos and a suspect folder, a short in-app training,
// calibration and scan; then the detail view of `--views` different images is opened one after the
// other, each timed from the click to its reconstruction drawn. Every opening asks the model worker
// to `explain` one image. Prints each opening's time, the median of the openings after the first, and
// the ORT sessions the worker built meanwhile (where the build has the counter).
//
// Before/after: build each version and point BENCH_DIST at the older build's folder:
//   npx vite build && npm run bench:detail-view [-- --clean 120 --suspect 100 --views 8]
//   BENCH_DIST=/path/to/old/dist npm run bench:detail-view
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdirSync } from 'node:fs';
import type { Page } from '@playwright/test';
import type {} from '../src/app/backend/debug-handle';
import { launchChromium, startPreview } from './lib/browser';
import { fixed, loadLine, table } from './lib/format';
import { cleanFolder, readPhotos, suspectFolder } from './lib/scale-folders';
import { flagValue } from './lib/args';

const PORT = Number(process.env['BENCH_PORT'] ?? 4186);
const CACHE = resolve(process.env['DETAIL_CACHE'] ?? join(tmpdir(), 'dede-bench-detail'));

function arg(name: string, fallback: number): number {
  const v = Number(flagValue(process.argv, name) ?? fallback);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive whole number`);
  return v;
}

function nav(page: Page, step: string) {
  return page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: step });
}

async function sessionsBuilt(page: Page): Promise<number | null> {
  return page.evaluate(async () => (typeof window.dedeDebug?.sessionStats === 'function' ? (await window.dedeDebug.sessionStats()).created : null));
}

async function main(): Promise<void> {
  const clean = arg('clean', 120);
  const suspect = arg('suspect', 100);
  const views = arg('views', 8);
  mkdirSync(CACHE, { recursive: true });
  const photos = await readPhotos(resolve('../shared/data/cifar10-train'));
  const cleanDir = await cleanFolder(CACHE, photos, clean);
  const suspectDir = await suspectFolder(CACHE, photos, clean, suspect, 32);
  const encoder = resolve('public/demo/encoders/badencoder');
  const preview = await startPreview(PORT);
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (e) => console.error(`  page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${PORT}/?ep=wasm`);
    await page.getByTestId('encoder-file-input').setInputFiles([join(encoder, 'model.onnx'), join(encoder, 'preprocessor_config.json')]);
    await page.getByTestId('encoder-summary').waitFor({ timeout: 120_000 });
    await nav(page, 'Images').click();
    for (const dir of [cleanDir, suspectDir]) {
      await page.getByTestId('images-folder-input').setInputFiles(dir);
      await page.locator(`[data-dataset-name="${dir.split('/').pop()}"][data-status="ready"]`).waitFor({ timeout: 300_000 });
    }
    await nav(page, 'Train').click();
    await page.getByLabel('Epochs').fill('2');
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.locator('[data-testid="train-run"][data-status="done"]').waitFor({ timeout: 600_000 });
    await nav(page, 'Calibrate').click();
    await page.getByRole('button', { name: /Score \d+ held-back clean images/ }).click();
    await page.getByTestId('calibration').waitFor({ timeout: 300_000 });
    await nav(page, 'Scan').click();
    await page.getByRole('main').getByRole('button', { name: 'Scan', exact: true }).click();
    await page.locator('[data-testid="scan"][data-status="done"]').waitFor({ timeout: 600_000 });

    await nav(page, 'Review').click();
    const items = page.getByTestId('review-item');
    const dialog = page.getByTestId('detail-dialog');
    await items.first().waitFor();
    console.log(loadLine('before the detail views'));
    const rows: string[][] = [];
    const times: number[] = [];
    for (let i = 0; i < views; i++) {
      const built = await sessionsBuilt(page);
      const t0 = performance.now();
      await items.nth(i).click();
      await dialog.locator('[data-testid="detail-recon"][data-drawn="true"]').waitFor({ timeout: 120_000 });
      const ms = performance.now() - t0;
      const after = await sessionsBuilt(page);
      times.push(ms);
      rows.push([String(i + 1), fixed(ms, 0), built === null || after === null ? 'n/a' : String(after - built)]);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
    }
    const rest = times.slice(1).sort((a, b) => a - b);
    const median = rest.length > 0 ? rest[Math.floor(rest.length / 2)]! : NaN;
    console.log(`build: ${process.env['BENCH_DIST'] ?? 'dist (this checkout)'}; ${clean} clean + ${suspect} suspect CIFAR-10 photos, BadEncoder, WASM`);
    console.log(table(['view', 'ms (click → reconstruction drawn)', 'ORT sessions built'], rows));
    console.log(`first view ${fixed(times[0], 0)} ms; median of views 2–${views}: ${fixed(median, 0)} ms`);
  } finally {
    await browser.close();
    preview.kill();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
