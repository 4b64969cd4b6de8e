// Calibrate and Scan in the built app, cross-checked against the same core run in Node on the
// same PNGs with the decoder exported from the page.
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import sharp from 'sharp';
import type {} from '../src/app/backend/debug-handle';
import { importDecoder } from '../src/core/dede/decoder-file';
import { ContentScorer } from '../src/core/dede/content-scorer';
import { contentScore, contentWeights } from '../src/core/dede/content-score';
import type { ScoreKind } from '../src/core/dede/scores';
import { normalizeRgb, preprocessingFromHf } from '../src/core/images/preprocess';
import { createRuntime } from '../src/core/runtime/session';
import { EncoderRunner } from '../src/core/dede/encoder-runner';
import { expect, longestTaskSince, pageNow, recordLongTasks, test, LONG_TASK_BUDGET_MS } from './fixtures';
import { addFolder, loadLocalEncoder, startTraining, writeEncoderFolder } from './workflow-steps';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../src/testing/tiny-encoder';

const root = mkdtempSync(join(tmpdir(), 'dede-scan-e2e-'));
const encoderFiles = writeEncoderFolder(join(root, 'encoder'));
const cleanDir = join(root, 'clean-reference');
const suspectDir = join(root, 'suspect');
const suspectPixels = new Map<string, Uint8Array>();

function picture(seed: number, stamp: boolean): Uint8Array {
  const px = new Uint8Array(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) px[p * 3 + c] = Math.round(127 + 120 * Math.sin((p % 32) / (3 + c) + seed + Math.cos(p / 97)));
  if (stamp) for (let y = 21; y <= 30; y++) for (let x = 21; x <= 30; x++) for (let c = 0; c < 3; c++) px[(y * 32 + x) * 3 + c] = 255;
  return px;
}

test.beforeAll(async () => {
  mkdirSync(cleanDir);
  for (let i = 0; i < 120; i++) await sharp(picture(i, false), { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(cleanDir, `c${i}.png`));
  mkdirSync(suspectDir);
  for (let i = 0; i < 24; i++) {
    const px = picture(500 + i, i % 4 === 0);
    const name = `s${String(i).padStart(2, '0')}.png`;
    suspectPixels.set(name, px);
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(suspectDir, name));
  }
});

test('calibrates on held-back clean images and scans a suspect folder; scores match the Node core', async ({ page, guard }) => {
  void guard;
  test.setTimeout(300_000);
  await recordLongTasks(page);
  await page.goto('/');
  await loadLocalEncoder(page, encoderFiles);
  const nav = page.getByRole('navigation', { name: 'Workflow steps' });
  await nav.getByRole('button', { name: 'Images' }).click();
  await addFolder(page, cleanDir, 'clean-reference', 120);
  await addFolder(page, suspectDir, 'suspect', 24);

  await nav.getByRole('button', { name: 'Train' }).click();
  const trainStart = await pageNow(page);
  await startTraining(page, 3);
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  // Model work runs in the worker: the page has no task longer than 200 ms while training.
  expect(await longestTaskSince(page, trainStart)).toBeLessThan(LONG_TASK_BUDGET_MS);

  await nav.getByRole('button', { name: 'Calibrate' }).click();
  await page.getByRole('button', { name: /Score 30 held-back clean images/ }).click();
  const calibration = page.getByTestId('calibration');
  await expect(calibration).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('histogram')).toBeVisible();
  await expect(page.getByTestId('realised-fpr')).toHaveText(/^\d+\.\d%$/);
  const tauFpr = Number(await page.getByTestId('threshold').textContent());
  await page.getByRole('radio', { name: /Mean \+ k·σ/ }).check();
  const tauSigma = Number(await page.getByTestId('threshold').textContent());
  expect(tauSigma).not.toBe(tauFpr);
  await page.screenshot({ path: 'test-results/screens/calibrate.png', fullPage: true });

  await nav.getByRole('button', { name: 'Scan' }).click();
  const scanStart = await pageNow(page);
  await page.getByRole('main').getByRole('button', { name: 'Scan', exact: true }).click();
  const scan = page.getByTestId('scan');
  await expect(scan).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  expect(await longestTaskSince(page, scanStart)).toBeLessThan(LONG_TASK_BUDGET_MS);
  await expect(page.getByTestId('scan-done')).toHaveText('24');
  await page.screenshot({ path: 'test-results/screens/scan.png', fullPage: true });
  const { threshold, rows } = await page.evaluate(() => window.dedeDebug!.scanResults());
  expect(threshold).toBeCloseTo(tauSigma, 3);
  expect(rows).toHaveLength(24);
  // One fused verdict (σ calibration → 5% target): flagged iff the combined p-value ≤ 0.05, and
  // every component kept; the decoder component is still judged against the calibration.
  await expect(page.getByTestId('scan-verdict')).toContainText('set-level collapse score');
  // The collapse gate stays shut on this fixture: the tiny encoder is a fixed linear map with no
  // backdoor, so the 6 stamped photos are shifted by its response to the white square, not pulled
  // onto one embedding (1 image sits beyond every clean reference image; 2 would open the gate).
  // The decoder's p-value then decides alone, at the whole α.
  await expect(page.getByTestId('scan-verdict')).toContainText(/No collapse found: 1 scanned image sat closer .* \(2 needed;/);
  for (const r of rows) {
    expect(r.flagged).toBe(r.pValue <= 0.05);
    expect(r.pValue).toBeCloseTo(r.decoderPValue!, 9);
    expect(r.collapseScore).toBeGreaterThan(-1);
  }
  await expect(page.getByTestId('scan-flagged')).toHaveText(String(rows.filter((r) => r.flagged).length));

  // The same images and decoder through the Node core give the same scores.
  await nav.getByRole('button', { name: 'Train' }).click();
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export decoder (.onnx)' }).click();
  const decoder = importDecoder(new Uint8Array(readFileSync(await (await download).path())));
  const runtime = createRuntime(ortNode, 'cpu');
  const pre = preprocessingFromHf(JSON.parse(new TextDecoder().decode(PREPROCESSOR_CONFIG)), null);
  const names = rows.map((r) => r.path.split('/').pop()!);
  const images = new Float32Array(names.length * 3072);
  names.forEach((n, i) => normalizeRgb(suspectPixels.get(n)!, pre, images.subarray(i * 3072, (i + 1) * 3072)));
  const encoderSpec = { bytes: tinyEncoderBytes(), inputName: 'pixel_values', readout: { output: 'embedding', pooling: 'none' as const }, height: 32, width: 32, fixedBatch: null };
  const runner = await EncoderRunner.create(runtime, encoderSpec);
  const { data } = await runner.embed(images, names.length);
  // decoderScore is the content score on the calibration's clean scale (docs/ARCHITECTURE.md §5.3.1).
  const scoreKind = await page.evaluate(() => (JSON.parse(localStorage.getItem('dede-web/scan')!) as { state: { calibration: { calibration: { scoreKind: ScoreKind } } } }).state.calibration.calibration.scoreKind);
  if (scoreKind.kind !== 'content') throw new Error(`the app calibrated on ${scoreKind.kind}, not the content score`);
  const scorer = await ContentScorer.create(runtime, decoder.cfg, decoder.weights, encoderSpec, { rounds: 4 });
  const expected = await scorer.scoreBatch({ decoderImages: images, encoderImages: images, embeddings: data });
  rows.forEach((r, i) => {
    expect(Math.abs(r.medianPatchError! - expected[i]!.decoder.score) / expected[i]!.decoder.score).toBeLessThan(1e-3);
    expect(Math.abs(r.decoderScore! - contentScore(expected[i]!.components, scoreKind.scale))).toBeLessThan(1e-2);
    const w = contentWeights(scoreKind.scale);
    expect(r.decoderScore).toBeCloseTo(w.semantic * r.semanticZ! + w.lowPass * r.lowPassZ! + w.flip * r.flipZ!, 9);
  });

  // A reload keeps calibration and results.
  await page.reload();
  await nav.getByRole('button', { name: 'Scan' }).click();
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'done');
  await expect.poll(async () => (await page.evaluate(() => window.dedeDebug!.scanResults())).rows.length).toBe(24);
});
