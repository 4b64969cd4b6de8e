// Faults, each simulated at its seam: the GPU device lost mid-training and mid-scan (the worker's
// runtime trips as `device.lost` does), the model worker crashing (once: restarted; twice: a reload
// is offered), and storage running out (a small quota for the origin through CDP).
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import sharp from 'sharp';
import type {} from '../src/app/backend/debug-handle';
import type { TrainRun } from '../src/app/train/train-store';
import { expect, test } from './fixtures';
import { addFolder, loadLocalEncoder, nav, savedCheckpointStep, startTraining, writeEncoderFolder } from './workflow-steps';

const root = mkdtempSync(join(tmpdir(), 'dede-faults-e2e-'));
const encoderFiles = writeEncoderFolder(join(root, 'encoder'));
const cleanDir = join(root, 'clean-reference');
const suspectDir = join(root, 'suspect');
const CLEAN = 80;
const SUSPECT = 96;

function picture(seed: number): Uint8Array {
  const px = new Uint8Array(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) px[p * 3 + c] = Math.round(127 + 120 * Math.sin((p % 32) / (3 + c) + seed + Math.cos(p / 97)));
  return px;
}

test.beforeAll(async () => {
  mkdirSync(cleanDir);
  for (let i = 0; i < CLEAN; i++) await sharp(picture(i), { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(cleanDir, `c${i}.png`));
  mkdirSync(suspectDir);
  for (let i = 0; i < SUSPECT; i++) await sharp(picture(1000 + i), { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(suspectDir, `s${i}.png`));
});

async function badge(page: Page, ep: 'webgpu' | 'wasm') {
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-ep', ep);
}

/** Encoder and the clean folder, then the Train step with small, fast settings. */
async function prepareTraining(page: Page, batchSize: number): Promise<void> {
  await loadLocalEncoder(page, encoderFiles);
  await nav(page, 'Images').click();
  await addFolder(page, cleanDir, 'clean-reference', CLEAN);
  await nav(page, 'Train').click();
  await page.getByText('Advanced').click();
  await page.getByLabel('Batch size').fill(String(batchSize));
}

function storedRun(page: Page): Promise<TrainRun | null> {
  return page.evaluate(() => (JSON.parse(localStorage.getItem('dede-web/train') ?? '{}') as { state?: { run?: TrainRun } }).state?.run ?? null);
}

async function stepReached(page: Page, step: number): Promise<void> {
  await expect.poll(async () => (await storedRun(page))?.step ?? 0, { timeout: 120_000, intervals: [200] }).toBeGreaterThanOrEqual(step);
}

/** Clicks Pause from inside the page as soon as the run reaches `step` (a step takes ~1 s on WASM here). */
async function pauseAt(page: Page, step: number): Promise<number> {
  await page.evaluate(async (at) => {
    const stepOf = () => (JSON.parse(localStorage.getItem('dede-web/train') ?? '{}') as { state?: { run?: { step: number } } }).state?.run?.step ?? 0;
    while (stepOf() < at) await new Promise((r) => setTimeout(r, 10));
    [...document.querySelectorAll('button')].find((b) => b.textContent === 'Pause')!.click();
  }, step);
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'paused');
  return (await storedRun(page))!.step;
}

/** The loss curve of a finished run: one point per step from 1 to `steps`, none repeated or lost. */
async function expectUnbrokenCurve(page: Page, steps: number): Promise<void> {
  const run = (await storedRun(page))!;
  expect(run.status).toBe('done');
  expect(run.step).toBe(steps);
  expect(run.losses.map((p) => p.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
  expect(run.losses.every((p) => Number.isFinite(p.loss))).toBe(true);
}

async function scanRows(page: Page) {
  return (await page.evaluate(() => window.dedeDebug!.scanResults())).rows;
}

const deviceLost = (page: Page) => page.locator('[data-testid="fault-notice"][data-fault="device-lost"]');

test('GPU device lost mid-training and mid-scan: WASM in a fresh worker resumes from the last checkpoint / the rows done', async ({ page, guard }) => {
  void guard;
  test.setTimeout(560_000);
  // Fast part on WASM: 60 training images in batches of 12 = 5 steps an epoch, 6 epochs = 30 steps.
  await page.goto('/?ep=wasm');
  await prepareTraining(page, 12);
  await nav(page, 'Images').click();
  await addFolder(page, suspectDir, 'suspect', SUSPECT);
  await nav(page, 'Train').click();
  await startTraining(page, 6);
  const pausedAt = await pauseAt(page, 21);
  expect(pausedAt).toBeGreaterThan(20);
  expect(pausedAt).toBeLessThan(29);

  // On (SwiftShader) WebGPU: resume from the pause's checkpoint; the device is lost while the GPU
  // trainer starts (after the cached embeddings are in: one SwiftShader step alone takes ~40 s here).
  await page.goto('/?ep=webgpu');
  await badge(page, 'webgpu');
  await nav(page, 'Train').click();
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByText(/^Embeddings \d+ of \d+ images/)).toBeVisible();
  const lostAt = (await storedRun(page))!.step;
  await page.evaluate(() => window.dedeDebug!.simulateFault('device-lost'));
  await expect(deviceLost(page)).toContainText(`GPU device lost (simulated for a test): continuing on WASM (CPU). Training resumed from step ${pausedAt} (its last checkpoint).`);
  await badge(page, 'wasm');
  await expect(page.getByTestId('backend-badge')).toContainText('(fallback)');
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await page.screenshot({ path: 'test-results/screens/faults-device-lost-training.png', fullPage: true });
  expect(lostAt).toBe(pausedAt);
  await expectUnbrokenCurve(page, 30);

  // Calibrate and a reference scan on WASM; the embeddings are then cached for the WebGPU scan.
  await nav(page, 'Calibrate').click();
  await page.getByRole('button', { name: /Score 20 held-back clean images/ }).click();
  await expect(page.getByTestId('calibration')).toBeVisible();
  await nav(page, 'Scan').click();
  await page.getByRole('main').getByRole('button', { name: 'Scan', exact: true }).click();
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'done');
  const reference = new Map((await scanRows(page)).map((r) => [r.slot, r.decoderScore!]));
  expect(reference.size).toBe(SUSPECT);

  // The same scan on WebGPU, the device lost once the first chunk of rows is in.
  await page.goto('/?ep=webgpu');
  await badge(page, 'webgpu');
  await nav(page, 'Scan').click();
  await page.getByRole('main').getByRole('button', { name: 'Scan again', exact: true }).click();
  await expect.poll(async () => (await scanRows(page)).length, { timeout: 240_000, intervals: [200] }).toBeGreaterThan(0);
  const rowsAtLoss = (await scanRows(page)).length;
  await page.evaluate(() => window.dedeDebug!.simulateFault('device-lost'));
  await expect(deviceLost(page)).toContainText(`The scan continues with image ${rowsAtLoss + 1} of ${SUSPECT}; finished rows are kept.`);
  await badge(page, 'wasm');
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await expect(page.getByTestId('scan-done')).toHaveText(String(SUSPECT));
  await page.screenshot({ path: 'test-results/screens/faults-device-lost-scan.png', fullPage: true });
  const rows = await scanRows(page);
  expect(rowsAtLoss).toBeLessThan(SUSPECT);
  expect(rows.map((r) => r.slot).sort((a, b) => a - b)).toEqual(Array.from({ length: SUSPECT }, (_, i) => i));
  // Rows scored on the GPU before the loss and on WASM after it agree with the all-WASM scan.
  for (const r of rows) expect(Math.abs(r.decoderScore! - reference.get(r.slot)!) / reference.get(r.slot)!).toBeLessThan(1e-3);
});

test('a crashed model worker is restarted once and training resumes; a second crash offers a reload', async ({ page, guard }) => {
  guard.allowConsoleErrors(/simulated worker crash/);
  test.setTimeout(180_000);
  await page.goto('/?ep=wasm');
  await prepareTraining(page, 12);
  await startTraining(page, 6);
  await stepReached(page, 21);
  // Checkpoints are written while training goes on: crash once the step-20 one is on disk.
  const runId = (await storedRun(page))!.runId;
  await expect.poll(() => savedCheckpointStep(page, runId), { timeout: 60_000, intervals: [100] }).toBeGreaterThanOrEqual(20);
  const crashedAt = (await storedRun(page))!.step;
  await page.evaluate(() => window.dedeDebug!.simulateFault('crash'));
  const notice = page.locator('[data-testid="fault-notice"][data-fault="worker-crash"]');
  await expect(notice).toContainText('The model worker stopped unexpectedly (Uncaught Error: simulated worker crash); restarted.');
  await expect(notice).toContainText(/Training resumed from step \d+ \(its last checkpoint\)\./);
  const resumedFrom = Number(/from step (\d+)/.exec((await notice.textContent())!)![1]);
  expect(resumedFrom).toBeGreaterThanOrEqual(20);
  expect(resumedFrom).toBeLessThanOrEqual(crashedAt + 1);
  await expect(notice).toHaveAttribute('data-level', 'warn');
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await expectUnbrokenCurve(page, 30);

  // A second crash: no restart loop, a persistent error and a reload button instead.
  await page.evaluate(() => window.dedeDebug!.simulateFault('crash'));
  await expect(notice).toHaveAttribute('data-level', 'error');
  await expect(notice).toContainText('stopped unexpectedly (Uncaught Error: simulated worker crash) again, so it was not restarted. Reload the page');
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-state', 'failed');
  await page.screenshot({ path: 'test-results/screens/faults-worker-crash.png', fullPage: true });
  await notice.getByRole('button', { name: 'Reload the page' }).click();
  await badge(page, 'wasm');
  await expect(page.getByTestId('fault-notice')).toHaveCount(0);
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done');
  await expectUnbrokenCurve(page, 30);
});

/**
 * Chromium's own quota for this origin, shrunk through CDP: OPFS writes past it throw
 * QuotaExceededError. The override lives as long as the CDP session, which stays open.
 */
async function setQuota(page: Page, bytes: number | null): Promise<void> {
  cdpSessions.set(page, cdpSessions.get(page) ?? (await page.context().newCDPSession(page)));
  await cdpSessions.get(page)!.send('Storage.overrideQuotaForOrigin', { origin: new URL(page.url()).origin, ...(bytes === null ? {} : { quotaSize: bytes }) });
}
const cdpSessions = new WeakMap<Page, import('@playwright/test').CDPSession>();

test('storage full: adding images and saving a checkpoint fail with a clear message; what was saved survives a reload', async ({ page, guard }) => {
  void guard;
  test.setTimeout(180_000);
  await page.goto('/?ep=wasm');
  // 9 epochs of 5 steps: checkpoints at steps 20 and 40; paused at 21, so 21 is on disk.
  await prepareTraining(page, 12);
  await startTraining(page, 9);
  const pausedAt = await pauseAt(page, 21);

  // Below what is already stored: every new write fails, what is on disk stays readable.
  await setQuota(page, 1024);
  await nav(page, 'Images').click();
  await page.getByTestId('images-folder-input').setInputFiles(suspectDir);
  const suspect = page.locator('[data-dataset-name="suspect"]');
  await expect(suspect).toHaveAttribute('data-status', 'failed');
  await expect(suspect.getByRole('alert').first()).toHaveText(/^Browser storage is full: the images of “suspect” could not be saved\. Nothing saved before was lost\. Free space by deleting saved models \(Encoder step, Saved models\) or image folders you no longer need \(Images step\), then try again\.$/);

  await nav(page, 'Train').click();
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'failed', { timeout: 120_000 });
  await expect(page.getByTestId('train-run').getByRole('alert')).toContainText('Browser storage is full: the training checkpoint at step 40 could not be saved. Nothing saved before was lost.');
  await page.screenshot({ path: 'test-results/screens/faults-storage-full.png', fullPage: true });

  // After a reload (space freed): the clean folder is whole, and training resumes from the pause's checkpoint.
  await setQuota(page, null);
  await page.reload();
  await nav(page, 'Images').click();
  const clean = page.locator('[data-dataset-name="clean-reference"]');
  await expect(clean).toHaveAttribute('data-status', 'ready');
  await expect(clean.getByTestId('count-images')).toHaveText(String(CLEAN));
  await nav(page, 'Train').click();
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  expect(pausedAt).toBeLessThan(40);
  await expectUnbrokenCurve(page, 45);
});

test('a reload mid-scan keeps the rows already saved and Resume scan scores only the rest', async ({ page, guard }) => {
  void guard;
  test.setTimeout(180_000);
  const largeDir = join(root, 'suspect-large');
  mkdirSync(largeDir, { recursive: true });
  for (let i = 0; i < 256; i++) await sharp(picture(5000 + i), { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(largeDir, `l${i}.png`));
  await page.goto('/?ep=wasm');
  await prepareTraining(page, 12);
  await startTraining(page, 2);
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await nav(page, 'Images').click();
  await addFolder(page, largeDir, 'suspect-large', 256);
  await nav(page, 'Calibrate').click();
  await page.getByRole('button', { name: /Score 20 held-back clean images/ }).click();
  await expect(page.getByTestId('calibration')).toBeVisible();
  await nav(page, 'Scan').click();
  await page.getByRole('main').getByRole('button', { name: 'Scan', exact: true }).click();
  const scanState = () => page.evaluate(() => (JSON.parse(localStorage.getItem('dede-web/scan') ?? '{}') as { state?: { scan?: { status: string; savedRows?: number } } }).state?.scan);
  await expect.poll(async () => (await scanState())?.savedRows ?? 0, { timeout: 120_000, intervals: [50] }).toBeGreaterThan(0);
  const before = await scanState();
  expect(before?.status).toBe('scanning');
  await page.reload();
  await nav(page, 'Scan').click();
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'interrupted');
  const kept = before!.savedRows!;
  await expect(page.getByTestId('scan-interrupted')).toHaveText(`The page was reloaded during the scan. The ${kept} images scored before it are kept; Resume scan scores the other ${256 - kept}.`);
  expect((await scanRows(page)).length).toBe(kept);
  const keptRows = new Map((await scanRows(page)).map((r) => [r.slot, r.decoderScore]));
  await page.screenshot({ path: 'test-results/screens/faults-reload-mid-scan.png', fullPage: true });
  await page.getByRole('button', { name: `Resume scan (${kept} of 256 done)` }).click();
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await expect(page.getByTestId('scan-done')).toHaveText('256');
  const rows = await scanRows(page);
  expect(rows.map((r) => r.slot).sort((a, b) => a - b)).toEqual(Array.from({ length: 256 }, (_, i) => i));
  // Each image has exactly one row (the kept ones were not scored twice), and kept rows are unchanged.
  for (const r of rows) if (keptRows.has(r.slot)) expect(r.decoderScore).toBe(keptRows.get(r.slot));
});
