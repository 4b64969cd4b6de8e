// The bad-input drill in the built app: the generated image corpus (truncated, corrupt, empty,
// decompression bombs, renamed, non-image files and hostile names) through the folder input and
// the decode workers, then every ONNX case through the local encoder input. Each bad file must be
// named with its reason, each good one accepted, and the page must keep working. Prints the table.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Download, Page } from '@playwright/test';
import { unzipSync } from 'fflate';
import Papa from 'papaparse';
import type {} from '../src/app/backend/debug-handle';
import { escapeHtml } from '../src/core/report/html-escape';
import { FORMULA_START, type ScanReport } from '../src/core/report/scan-report';
import { encodePng, pattern } from '../src/testing/image-files';
import { HOSTILE_NAMES, hostileName, imageCases, mutantImages, onnxCases, type ImageCase, type OnnxCase } from '../scripts/fuzz/corpus';
import { csvCell, formatTable, parseCleanedList, writeImageCases, type DrillRow } from '../scripts/fuzz/drill';
import { expect, test } from './fixtures';
import { PREPROCESSOR_CONFIG } from '../src/testing/tiny-encoder';
import { addFolder, loadLocalEncoder, nav, trainAndCalibrate, writeEncoderFolder } from './workflow-steps';

const FOLDER = 'fuzz-images';
let images: ImageCase[];
const onnx: OnnxCase[] = onnxCases();
let dir: string;

test.beforeAll(async () => {
  images = await imageCases();
  dir = join(mkdtempSync(join(tmpdir(), 'dede-fuzz-e2e-')), FOLDER);
  mkdirSync(dir);
  writeImageCases(dir, images);
});

test('every bad image is listed with its reason, every good one is used, the page keeps working', async ({ page }) => {
  await page.goto('/');
  await nav(page, 'Images').click();
  await page.getByTestId('images-folder-input').setInputFiles(dir);
  const card = page.locator(`[data-dataset-name="${FOLDER}"]`);
  await expect(card).toHaveAttribute('data-status', 'ready');

  const good = images.filter((c) => c.expect.outcome === 'ok');
  const bad = images.filter((c) => c.expect.outcome === 'unreadable');
  // What the card lists, read as data: [path, reason] per unreadable row, and the thumbnails' paths.
  const listed = await card.getByTestId('unreadable-list').locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => {
      const cells = r.querySelectorAll('td');
      const reason = cells[2]!.cloneNode(true) as HTMLElement;
      reason.querySelector('.sr-only')?.remove();
      return [cells[0]!.textContent ?? '', reason.textContent ?? ''] as const;
    }),
  );
  const reasons = new Map(listed);
  // Accepted images keep their exact path (line breaks, quotes, markup and all): the thumbnails name them.
  const thumbs = await card.locator('canvas[title]').evaluateAll((els) => els.map((e) => e.getAttribute('title') ?? ''));
  const accepted = new Set(thumbs.map((t) => t.replace(/ \(\d+×\d+(, duplicate)?\)$/, '')));
  const cardText = (await card.textContent()) ?? '';
  const rows: DrillRow[] = images.map((c) => {
    const path = `${FOLDER}/${c.path}`;
    const reason = reasons.get(path);
    const got = accepted.has(path) ? 'ok' : reason === undefined ? 'missing' : 'unreadable';
    if (c.expect.outcome === 'ok') {
      const noteOk = c.expect.note === undefined || cardText.includes(`${path} — ${c.expect.note.source.slice(1, -1).replace(/\\/g, '')}`);
      return { area: 'app images', case: c.label, expected: 'ok', got, message: noteOk ? '' : 'extension note missing', pass: got === 'ok' && noteOk };
    }
    const pass = reason !== undefined && c.expect.reason.test(reason);
    return { area: 'app images', case: c.label, expected: `${c.expect.kind}`, got: reason === undefined ? got : c.expect.kind, message: reason ?? '', pass };
  });
  console.log(`\n${formatTable(rows)}\n`);
  expect(rows.filter((r) => !r.pass).map((r) => `${r.case}: ${r.got} (${r.message})`)).toEqual([]);
  await expect(card.getByTestId('count-files')).toHaveText(String(images.length));
  await expect(card.getByTestId('count-images')).toHaveText(String(good.length));
  await expect(card.getByTestId('count-unreadable')).toHaveText(String(bad.length));
  expect(listed).toHaveLength(bad.length);
  await card.getByText(`${bad.length} unreadable files (skipped)`).click();
  await page.screenshot({ path: 'test-results/screens/fuzz-images.png', fullPage: true });

  // Still responsive: the workflow navigation works and a second folder loads after the bombs.
  await nav(page, 'Encoder').click();
  await expect(page.getByTestId('encoder-file-input')).toBeAttached();
  await nav(page, 'Images').click();
  await expect(card.getByTestId('count-images')).toHaveText(String(good.length));

  // Damaged copies straight into the browser's decoders: each one is used or named with a known reason.
  const mutants = mutantImages(images, 80);
  const mutantDir = join(dirname(dir), MUTANTS);
  mkdirSync(mutantDir);
  for (const m of mutants) writeFileSync(join(mutantDir, m.path), m.bytes);
  await page.getByTestId('images-folder-input').setInputFiles(mutantDir);
  const mutantCard = page.locator(`[data-dataset-name="${MUTANTS}"]`);
  await expect(mutantCard).toHaveAttribute('data-status', 'ready');
  const used = Number(await mutantCard.getByTestId('count-images').textContent());
  const refused = await mutantCard.getByTestId('unreadable-list').locator('tbody tr td:nth-child(3)').allTextContents();
  const unknown = refused.filter((r) => !KNOWN_REASON.test(r.replace(/^[^:]+: /, '')));
  const mutantRow: DrillRow = {
    area: 'app mutants',
    case: `${mutants.length} damaged images`,
    expected: 'used or named',
    got: `${used} used, ${refused.length} refused`,
    message: unknown[0] ?? `reasons: ${[...new Set(refused.map((r) => r.replace(/^[^:]+: /, '').replace(/ \(.*$/, '')))].join('; ')}`,
    pass: used + refused.length === mutants.length && unknown.length === 0,
  };
  console.log(`\n${formatTable([mutantRow])}\n`);
  expect(unknown).toEqual([]);
  expect(used + refused.length).toBe(mutants.length);
  expect(refused.length).toBeGreaterThan(0);
});

const MUTANTS = 'fuzz-mutants';
/** Every reason the intake gives (reasons.ts); anything else would be a raw error leaking through. */
const KNOWN_REASON = /^(empty file \(0 bytes\)|not an image \(looks like [^)]+\)(; .+)?|not an image \(unknown file type\)|corrupt (PNG|JPEG|WebP|GIF|BMP|AVIF): the browser could not decode it( \(.+\))?|image is \d+×\d+, larger than the \d+ px limit|image header says \d+×\d+, which has no pixels)$/;

test('every bad encoder file gets its message; valid ones load', async ({ page }) => {
  await page.goto('/');
  const rows: DrillRow[] = [];
  for (const c of onnx) {
    await page.getByTestId('encoder-file-input').setInputFiles({ name: c.name, mimeType: 'application/octet-stream', buffer: Buffer.from(c.bytes) });
    let got: string;
    let message: string;
    if (c.outcome === 'ok' || c.outcome === 'refused') {
      const summary = page.getByTestId('encoder-summary');
      await expect(summary.getByRole('heading', { level: 3 })).toHaveText(c.name);
      const refusal = summary.getByTestId('encoder-refusal');
      const refused = (await refusal.count()) > 0;
      got = refused ? 'refused' : 'ok';
      message = refused ? ((await refusal.textContent()) ?? '').replace(/^Not usable as an image encoder: /, '') : ((await summary.textContent()) ?? '');
      if (!refused) message = /\[\S*, 3, 32, 32\]/.test(message) ? '32×32' : /\[\S*, 3, \S*, \S*\]/.test(message) ? 'dynamic' : message.slice(0, 80);
    } else {
      const alert = page.getByRole('alert').filter({ hasText: c.name });
      await expect(alert).toBeVisible();
      message = (await alert.textContent()) ?? '';
      got = /is empty/.test(message) ? 'empty' : /not a usable ONNX model/.test(message) ? 'malformed' : /weights/.test(message) ? 'external-data' : 'other';
    }
    rows.push({ area: 'app encoder', case: c.label, expected: c.outcome, got, message, pass: got === c.outcome && c.message.test(message) });
    if (c.testRunError) {
      // Inspection cannot see that no runtime has the operator; the test run must say so.
      await page.getByRole('button', { name: 'Test run' }).click();
      const alert = page.getByTestId('encoder-summary').getByRole('alert').filter({ hasNot: page.getByTestId('encoder-refusal') });
      await expect(alert).toBeVisible();
      const text = (await alert.textContent()) ?? '';
      rows.push({ area: 'app test run', case: c.label, expected: 'run error', got: text ? 'run error' : 'none', message: text, pass: c.testRunError.test(text) });
    }
  }
  console.log(`\n${formatTable(rows)}\n`);
  expect(rows.filter((r) => !r.pass).map((r) => `${r.case}: ${r.got} (${r.message})`)).toEqual([]);
  await page.screenshot({ path: 'test-results/screens/fuzz-encoder.png', fullPage: true });

  // Dynamic height and width work once the preprocessor config gives the size.
  const dynamic = onnx.find((c) => c.label === 'dynamic H, W')!;
  await page.getByTestId('encoder-file-input').setInputFiles([
    { name: dynamic.name, mimeType: 'application/octet-stream', buffer: Buffer.from(dynamic.bytes) },
    { name: 'preprocessor_config.json', mimeType: 'application/json', buffer: Buffer.from(PREPROCESSOR_CONFIG) },
  ]);
  await expect(page.getByTestId('encoder-summary')).toContainText('32×32, mean [0.4914, 0.4822, 0.4465]');
  await page.getByRole('button', { name: 'Test run' }).click();
  await expect(page.getByTestId('encoder-test-run')).toContainText(/Batch of 2 → \[2, 16\] in [\d.]+ ms/);
});

const UNREADABLE_NAMES = [hostileName('=cmd'), hostileName('<script>'), hostileName('new\n')];

async function download(page: Page, button: string): Promise<Buffer> {
  const d: Promise<Download> = page.waitForEvent('download');
  await page.getByRole('button', { name: button }).click();
  return readFileSync(await (await d).path());
}

test('hostile file names go through training, scan and every export intact and inert', async ({ page }) => {
  test.setTimeout(300_000);
  const root = mkdtempSync(join(tmpdir(), 'dede-fuzz-export-'));
  const encoderFiles = writeEncoderFolder(join(root, 'encoder'));
  const clean = join(root, 'clean-reference');
  const suspect = join(root, 'suspect');
  mkdirSync(clean);
  for (let i = 0; i < 80; i++) writeFileSync(join(clean, `c${i}.png`), encodePng(32, 32, pattern(32, 32, 200 + i)));
  // Every hostile name as a valid image, and three of them again as unreadable files (the reports list those too).
  writeImageCases(suspect, [
    ...HOSTILE_NAMES.map((name, i) => ({ path: name, bytes: new Uint8Array(encodePng(32, 32, pattern(32, 32, 400 + i))), label: name, expect: { outcome: 'ok' as const } })),
    ...UNREADABLE_NAMES.map((name) => ({ path: `bad/${name}`, bytes: new TextEncoder().encode('not a picture\n'), label: '', expect: { outcome: 'ok' as const } })),
  ]);

  await page.goto('/');
  await loadLocalEncoder(page, encoderFiles);
  await nav(page, 'Images').click();
  await addFolder(page, clean, 'clean-reference', 80);
  await addFolder(page, suspect, 'suspect', HOSTILE_NAMES.length);
  await trainAndCalibrate(page, 1);
  await nav(page, 'Scan').click();
  await page.getByTestId('step-scan').getByRole('button', { name: 'Scan', exact: true }).click();
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  const { rows } = await page.evaluate(() => window.dedeDebug!.scanResults());
  const scanned = HOSTILE_NAMES.map((n) => `suspect/${n}`);
  expect(rows.map((r) => r.path).sort()).toEqual([...scanned].sort());
  const unreadable = UNREADABLE_NAMES.map((name) => `suspect/bad/${name}`);

  await nav(page, 'Report').click();
  const checks: DrillRow[] = [];
  const check = (what: string, problem: string | null) => checks.push({ area: 'app export', case: what, expected: 'intact', got: problem === null ? 'intact' : 'corrupt', message: problem ?? `${scanned.length} names`, pass: problem === null });

  const csv = Papa.parse<Record<string, string>>((await download(page, 'Download CSV')).toString('utf8'), { header: true, skipEmptyLines: true });
  const csvPaths = csv.data.map((r) => r['path']!);
  check('CSV', csv.errors.length > 0 ? csv.errors[0]!.message : JSON.stringify(csvPaths.sort()) === JSON.stringify(scanned.map(csvCell).sort()) ? null : `paths read back as ${JSON.stringify(csvPaths)}`);
  check('CSV formulas', csv.data.flatMap((r) => Object.values(r)).find((v) => FORMULA_START.test(v) && !/^-?\d/.test(v)) ?? null);

  const json = JSON.parse((await download(page, 'Download JSON')).toString('utf8')) as ScanReport;
  const jsonOk = JSON.stringify(json.images.map((i) => i.path).sort()) === JSON.stringify([...scanned].sort()) && JSON.stringify(json.unreadable.map((u) => u.path).sort()) === JSON.stringify([...unreadable].sort());
  check('JSON', jsonOk ? null : 'paths changed');

  const list = parseCleanedList((await download(page, 'Download list')).toString('utf8'));
  check('cleaned list', list.every((p) => scanned.includes(p)) && list.length === rows.filter((r) => !(r.score > json.threshold)).length ? null : `lines read back as ${JSON.stringify(list)}`);

  const html = (await download(page, 'Download HTML')).toString('utf8');
  const raw = /<script|<img src=x|<i>|<\/script>\.png/i.exec(html);
  check('HTML', raw ? `markup from a name: ${raw[0]}` : unreadable.every((p) => html.includes(escapeHtml(p))) ? null : 'an unreadable path is missing');

  const entries = Object.keys(unzipSync(new Uint8Array(await download(page, 'Download zip'))));
  const images = entries.filter((e) => e.endsWith('.png'));
  const unsafe = images.find((e) => /[\u0000-\u001f<>:"|?*\\]/.test(e));
  check('zip', unsafe ? `entry ${JSON.stringify(unsafe)}` : images.length === scanned.length && new Set(images).size === images.length ? null : `${images.length} image entries`);

  console.log(`\n${formatTable(checks)}\n`);
  expect(checks.filter((c) => !c.pass).map((c) => `${c.case}: ${c.message}`)).toEqual([]);
  await page.screenshot({ path: 'test-results/screens/fuzz-report.png', fullPage: true });
});
