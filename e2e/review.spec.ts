// Review and Report in the built app: encoder + clean folder (80) + suspect folder (30, a few with a
// white-square trigger and one hostile file name) + a known-poisoned folder (10 triggered), a short
// training, calibration and scan; then the gallery, the detail view, keyboard triage, the draggable
// threshold, ROC/AUROC, the trigger map, every export parsed, and long tasks while scrolling
// 20,000 rows.
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Download } from '@playwright/test';
import Papa from 'papaparse';
import sharp from 'sharp';
import type {} from '../src/app/backend/debug-handle';
import type { ScanReport } from '../src/core/report/scan-report';
import { ScanTable } from '../src/core/workflow/scan-table';
import { expect, longTasksSince, pageNow, recordLongTasks, test, LONG_TASK_BUDGET_MS } from './fixtures';
import { addFolder, loadLocalEncoder, startTraining, writeEncoderFolder } from './workflow-steps';

const root = mkdtempSync(join(tmpdir(), 'dede-review-e2e-'));
const encoderFiles = writeEncoderFolder(join(root, 'encoder'));
const cleanDir = join(root, 'clean-reference');
const suspectDir = join(root, 'suspect');
const poisonedDir = join(root, 'poisoned');
const HOSTILE = '=cmd<b>"x".png';

function picture(seed: number, stamp: boolean): Uint8Array {
  const px = new Uint8Array(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) px[p * 3 + c] = Math.round(127 + 120 * Math.sin((p % 32) / (3 + c) + seed + Math.cos(p / 97)));
  if (stamp) for (let y = 21; y <= 30; y++) for (let x = 21; x <= 30; x++) for (let c = 0; c < 3; c++) px[(y * 32 + x) * 3 + c] = 255;
  return px;
}

const png = (px: Uint8Array, file: string) => sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(file);

test.beforeAll(async () => {
  for (const d of [cleanDir, suspectDir, poisonedDir]) mkdirSync(d);
  for (let i = 0; i < 80; i++) await png(picture(i, false), join(cleanDir, `c${i}.png`));
  for (let i = 0; i < 29; i++) await png(picture(500 + i, i % 5 === 0), join(suspectDir, `s${String(i).padStart(2, '0')}.png`));
  await png(picture(900, true), join(suspectDir, HOSTILE));
  for (let i = 0; i < 10; i++) await png(picture(700 + i, true), join(poisonedDir, `p${i}.png`));
});

async function saved(download: Promise<Download>): Promise<string> {
  return readFileSync(await (await download).path(), 'utf8');
}

test('reviews scan results (gallery, detail, keyboard, threshold, ROC, trigger map) and exports reports', async ({ page, guard }) => {
  void guard;
  test.setTimeout(420_000);
  await recordLongTasks(page);
  await page.goto('/');
  await loadLocalEncoder(page, encoderFiles);
  const nav = page.getByRole('navigation', { name: 'Workflow steps' });
  await nav.getByRole('button', { name: 'Images' }).click();
  await addFolder(page, cleanDir, 'clean-reference', 80);
  await addFolder(page, suspectDir, 'suspect', 30);
  await addFolder(page, poisonedDir, 'poisoned', 10);

  await nav.getByRole('button', { name: 'Train' }).click();
  await startTraining(page, 3);
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await nav.getByRole('button', { name: 'Calibrate' }).click();
  await page.getByRole('button', { name: /Score \d+ held-back clean images/ }).click();
  await expect(page.getByTestId('calibration')).toBeVisible({ timeout: 60_000 });
  await nav.getByRole('button', { name: 'Scan' }).click();
  await page.getByTestId('step-scan').getByRole('button', { name: 'Scan', exact: true }).click();
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  const { threshold: tau, rows } = await page.evaluate(() => window.dedeDebug!.scanResults());
  expect(rows).toHaveLength(40);

  // Gallery: highest score first, thumbnails drawn.
  await nav.getByRole('button', { name: 'Review' }).click();
  const items = page.getByTestId('review-item');
  await expect(items.first()).toBeVisible();
  const byScore = [...rows].sort((a, b) => b.score - a.score);
  await expect(items.first()).toHaveAttribute('data-key', `${byScore[0]!.datasetId}:${byScore[0]!.slot}`);
  await expect(page.getByTestId('review-flagged')).toHaveText(String(rows.filter((r) => r.score > tau!).length));
  await expect(items.first().locator('canvas')).toHaveAttribute('data-drawn', 'true');
  await expect(page.getByTestId('review-histogram')).toBeVisible();
  await page.screenshot({ path: 'test-results/screens/review.png', fullPage: true });

  // Detail view of the top image: original, masked input, reconstruction and heatmap drawn.
  await items.first().click();
  const dialog = page.getByTestId('detail-dialog');
  await expect(dialog).toBeVisible();
  for (const id of ['detail-original', 'detail-masked', 'detail-recon', 'detail-heatmap']) await expect(dialog.getByTestId(id)).toHaveAttribute('data-drawn', 'true', { timeout: 60_000 });
  await expect(dialog).toContainText('0 of 64 patches visible');
  await expect(dialog.getByTestId('detail-score')).toHaveText(byScore[0]!.score.toPrecision(6));
  await dialog.getByLabel('Heatmap opacity').fill('0.8');
  await page.screenshot({ path: 'test-results/screens/review-detail.png' });

  // Keyboard triage inside the dialog: j/k move, f/c tag, Escape closes.
  await page.keyboard.press('j');
  await expect(dialog.getByTestId('detail-score')).toHaveText(byScore[1]!.score.toPrecision(6));
  await page.keyboard.press('f');
  await expect(dialog.getByTestId('detail-tag')).toHaveText('poisoned');
  await page.keyboard.press('k');
  await expect(dialog.getByTestId('detail-score')).toHaveText(byScore[0]!.score.toPrecision(6));
  await page.keyboard.press('c');
  await expect(dialog.getByTestId('detail-tag')).toHaveText('clean');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('listbox')).toBeFocused();
  await expect(items.nth(1)).toHaveAttribute('data-tag', 'poisoned');
  await page.keyboard.press('?');
  await expect(page.getByTestId('review-help')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('review-help')).toBeHidden();

  // Tag the hostile-named file so it shows in the HTML report.
  await page.getByLabel('Sort', { exact: true }).selectOption('path-asc');
  await page.getByRole('option', { name: new RegExp(HOSTILE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }).click();
  await expect(dialog).toBeVisible();
  // f toggles: the hostile file may be the second-highest score, tagged poisoned above already.
  const keyOfRow = (r: { datasetId: string; slot: number }) => `${r.datasetId}:${r.slot}`;
  const hostileKey = keyOfRow(rows.find((r) => r.path.endsWith(HOSTILE))!);
  if (hostileKey !== keyOfRow(byScore[1]!)) await page.keyboard.press('f');
  await expect(dialog.getByTestId('detail-tag')).toHaveText('poisoned');
  await page.keyboard.press('Escape');
  await page.getByLabel('Sort', { exact: true }).selectOption('score-desc');
  const taggedCount = String(new Set([keyOfRow(byScore[0]!), keyOfRow(byScore[1]!), hostileKey]).size);
  await expect(page.getByTestId('review-tagged')).toHaveText(taggedCount);

  // Drag the threshold to the middle of the axis: rows re-flag live.
  const handle = page.getByTestId('threshold-handle');
  await page.getByTestId('review-histogram').scrollIntoViewIfNeeded();
  const hist = await page.getByTestId('review-histogram').boundingBox();
  const grip = (await handle.boundingBox())!;
  await page.mouse.move(grip.x + grip.width / 2, hist!.y + 10);
  await page.mouse.down();
  await page.mouse.move(hist!.x + hist!.width * 0.45, hist!.y + 40, { steps: 8 });
  await page.mouse.up();
  await expect.poll(async () => Number(await page.getByTestId('review-threshold').getAttribute('data-value'))).not.toBeCloseTo(tau!, 6);
  const dragged = Number(await page.getByTestId('review-threshold').getAttribute('data-value'));
  await expect(page.getByTestId('review-flagged')).toHaveText(String(rows.filter((r) => r.score > dragged).length));
  // Keyboard: arrows move the slider by 1/200 of the range.
  await handle.focus();
  await page.keyboard.press('ArrowRight');
  const nudged = Number(await page.getByTestId('review-threshold').getAttribute('data-value'));
  expect(nudged).toBeGreaterThan(dragged);
  await expect(page.getByTestId('review-flagged')).toHaveText(String(rows.filter((r) => r.score > nudged).length));
  await page.getByLabel('Flagged only').check();
  await expect(page.getByTestId('review-count')).toHaveText(`${rows.filter((r) => r.score > nudged).length} shown`);
  await page.getByLabel('Flagged only').uncheck();

  // Known-poisoned folder: ROC and AUROC.
  await expect(page.getByTestId('roc-curve')).toBeVisible();
  await expect(page.getByTestId('auroc')).toHaveText(/^[01]\.\d{3}$/);
  await expect(page.getByTestId('label-definition')).toContainText('known-poisoned folders');
  await page.getByRole('button', { name: 'Compute trigger map' }).click();
  await expect(page.getByTestId('trigger-map')).toBeVisible({ timeout: 120_000 });
  await page.screenshot({ path: 'test-results/screens/review-threshold-roc.png', fullPage: true });

  // The main thread stays responsive while scrolling the gallery and moving through it.
  const scrollStart = await pageNow(page);
  const gallery = page.getByTestId('gallery');
  // On a tall screen the gallery uses the height (the viewport less the header and filters), not a
  // fixed cap: 1400 px tall leaves it well over the 640 px the old min(62vh, 40rem) stopped at.
  await page.setViewportSize({ width: 1280, height: 1400 });
  expect(await gallery.evaluate((e) => e.getBoundingClientRect().height)).toBeGreaterThan(1000);
  await page.setViewportSize({ width: 1280, height: 800 });
  await gallery.hover();
  for (let i = 0; i < 10; i++) await page.mouse.wheel(0, 400);
  await gallery.focus();
  for (let i = 0; i < 10; i++) await page.keyboard.press('j');
  const tasks = await longTasksSince(page, scrollStart);
  expect(Math.max(0, ...tasks), `long tasks: ${tasks.join(', ')}`).toBeLessThan(LONG_TASK_BUDGET_MS);

  // Exports.
  await nav.getByRole('button', { name: 'Report' }).click();
  const reviewTau = nudged;
  const flaggedNow = rows.filter((r) => r.score > reviewTau).length;
  await expect(page.getByTestId('report-flagged')).toHaveText(String(flaggedNow));
  const csvText = await (async () => {
    const d = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    return saved(d);
  })();
  const parsed = Papa.parse<Record<string, string>>(csvText, { header: true, skipEmptyLines: true }).data;
  expect(parsed).toHaveLength(40);
  const hostileRow = rows.find((r) => r.path.endsWith(HOSTILE))!;
  const hostileCsv = parsed.find((p) => p['path']!.endsWith(HOSTILE))!;
  expect(hostileCsv['path']).toBe(/^[=+\-@\t\r]/.test(hostileRow.path) ? `'${hostileRow.path}` : hostileRow.path);
  for (const p of parsed) {
    const r = rows.find((x) => p['path']!.endsWith(x.path))!;
    expect(Number(p['score'])).toBe(r.score);
    expect(p['flagged']).toBe(String(r.score > reviewTau));
  }

  const jsonText = await (async () => {
    const d = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download JSON' }).click();
    return saved(d);
  })();
  const report = JSON.parse(jsonText) as ScanReport;
  expect(report).toMatchObject({ format: 'dede-scan-report', version: 1, tool: { name: 'dede-web' }, summary: { scanned: 40, flagged: flaggedNow } });
  expect(report.threshold).toBeCloseTo(reviewTau, 3);
  expect(report.encoder.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(report.decoder.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(report.images.find((i) => i.path === hostileRow.path)!.score).toBe(hostileRow.score);

  const listText = await (async () => {
    const d = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download list' }).click();
    return saved(d);
  })();
  expect(listText.split('\n').filter(Boolean)).toHaveLength(40 - flaggedNow);

  const html = await (async () => {
    const d = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download HTML' }).click();
    return saved(d);
  })();
  expect(html).not.toMatch(/<script/i);
  // The security policies the app ran under name the hub's hosts as text; nothing else may.
  expect(html).toContain("connect-src &#39;self&#39; https://huggingface.co");
  expect(html.replace(/<pre class="policy">[^<]*<\/pre>/g, '')).not.toMatch(/https?:\/\//);
  for (const m of html.matchAll(/\ssrc="([^"]*)"/g)) expect(m[1]).toMatch(/^data:image\/png;base64,/);
  expect(html).toContain('=cmd&lt;b&gt;&quot;x&quot;.png');
  expect(html).not.toContain('=cmd<b>');
  expect(html).toContain(report.encoder.sha256);
  expect(html).toContain('AUROC');

  const zipBytes = await (async () => {
    const d = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download zip' }).click();
    return readFileSync(await (await d).path());
  })();
  const { unzipSync } = await import('fflate');
  const entries = Object.keys(unzipSync(new Uint8Array(zipBytes)));
  expect(entries.filter((e) => e.startsWith('flagged/'))).toHaveLength(flaggedNow);
  expect(entries.filter((e) => e.startsWith('kept/'))).toHaveLength(40 - flaggedNow);
  expect(entries).toContain('report.csv');
  await page.screenshot({ path: 'test-results/screens/report.png', fullPage: true });

  // The HTML report renders on its own (no requests: the guard would fail on any).
  const view = await page.context().newPage();
  await view.setContent(html);
  await expect(view.getByRole('heading', { name: 'DeDe scan report' })).toBeVisible();
  await view.screenshot({ path: 'test-results/screens/report-html.png', fullPage: true });
  await view.close();

  // 20,000 rows: the scan's saved table is replaced by synthetic rows (real images first, the rest
  // pointing at folders that do not exist, so their thumbnails say "no pixels"), then reloaded.
  const scanId = await page.evaluate(() => (JSON.parse(localStorage.getItem('dede-web/scan')!) as { state: { scan: { scanId: string } } }).state.scan.scanId);
  const big = Array.from({ length: 20_000 }, (_, i) => {
    const r = rows[i % rows.length]!;
    const score = ((i * 7919) % 20_000) / 20_000 * 2 * r.score + 1e-6 * i;
    return i < rows.length ? r : { ...r, datasetId: `synthetic-${Math.floor(i / 1000)}`, datasetName: 'synthetic', slot: i, path: `synthetic/${i}.png`, score };
  });
  const folders = [...new Map(big.map((r) => [r.datasetId, { id: r.datasetId, name: r.datasetName, role: r.role }])).values()];
  let table = ScanTable.empty(scanId, folders);
  for (const r of big) table = table.append({ folder: folders.findIndex((f) => f.id === r.datasetId), slots: [r.slot], paths: [r.path], scores: [r.score], dedeScores: [r.dedeScore], pValues: [r.pValue], flagged: [r.flagged] });
  const savedTable = Buffer.from(table.encode()).toString('base64');
  await page.evaluate(async (savedTable) => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('dede-workflow', { create: true });
    const scans = await dir.getDirectoryHandle('scans', { create: true });
    const w = await (await scans.getFileHandle('latest.table', { create: true })).createWritable();
    await w.write(Uint8Array.from(atob(savedTable), (c) => c.charCodeAt(0)));
    await w.close();
  }, savedTable);
  await page.reload();
  await nav.getByRole('button', { name: 'Review' }).click();
  await expect(page.getByTestId('review-count')).toHaveText('20,000 shown', { timeout: 30_000 });
  await expect(page.getByTestId('review-tagged')).toHaveText(taggedCount); // tags persist
  const bigStart = await pageNow(page);
  await page.getByTestId('gallery').hover();
  for (let i = 0; i < 30; i++) await page.mouse.wheel(0, 1200);
  await page.getByTestId('threshold-handle').focus();
  for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowLeft');
  await page.getByTestId('gallery').focus();
  for (let i = 0; i < 10; i++) await page.keyboard.press('j');
  const bigTasks = await longTasksSince(page, bigStart);
  console.log(`long tasks: 40 rows [${tasks.join(", ")}], 20,000 rows [${bigTasks.join(", ")}]`);
  expect(Math.max(0, ...bigTasks), `long tasks at 20,000 rows: ${bigTasks.join(', ')}`).toBeLessThan(LONG_TASK_BUDGET_MS);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: 'test-results/screens/review-20k-dark.png', fullPage: true });
});
