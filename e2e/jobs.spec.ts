// The model worker's jobs in the built app (docs/ARCHITECTURE.md §3.2, §3.3): a cancelled verdict
// stops the scan with every scored row kept and resumes into the verdict alone; the worker keeps its
// sessions, so opening a second image's detail view builds no ORT session; a cancelled reveal leaves
// Review usable and can be run again. Jobs are held at their start through the debug handle so the
// cancel lands while they run, whatever the machine's speed.
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type {} from '../src/app/backend/debug-handle';
import { expect, test } from './fixtures';
import { addFolder, loadLocalEncoder, nav, startTraining, writeEncoderFolder, writePngFolder } from './workflow-steps';

const root = mkdtempSync(join(tmpdir(), 'dede-jobs-e2e-'));
const encoderFiles = writeEncoderFolder(join(root, 'encoder'));
const SUSPECT = 24;

test.beforeAll(async () => {
  await writePngFolder(root, 'clean-reference', 84, 1);
  // Suspect pictures, half of them with a white square: with a 40% target FPR plenty are flagged.
  const dir = join(root, 'suspect');
  mkdirSync(dir);
  for (let i = 0; i < SUSPECT; i++) {
    const px = new Uint8Array(32 * 32 * 3);
    for (let p = 0; p < px.length; p++) px[p] = Math.round(127 + 120 * Math.sin(p / (5 + (i % 4)) + 40 + i));
    if (i % 2 === 0) for (let y = 21; y <= 30; y++) for (let x = 21; x <= 30; x++) for (let c = 0; c < 3; c++) px[(y * 32 + x) * 3 + c] = 255;
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(dir, `s${String(i).padStart(2, '0')}.png`));
  }
});

test('cancelling the verdict or a reveal stops it and loses nothing; a second detail view builds no ORT session', async ({ page, guard }) => {
  void guard;
  test.setTimeout(300_000);
  await page.goto('/');
  await loadLocalEncoder(page, encoderFiles);
  await nav(page, 'Images').click();
  await addFolder(page, join(root, 'clean-reference'), 'clean-reference', 84);
  await addFolder(page, join(root, 'suspect'), 'suspect', SUSPECT);
  await nav(page, 'Train').click();
  await startTraining(page, 2);
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await nav(page, 'Calibrate').click();
  await page.getByLabel('Target false-positive rate (%)').fill('40');
  await page.getByRole('button', { name: /Score \d+ held-back clean images/ }).click();
  await expect(page.getByTestId('calibration')).toBeVisible({ timeout: 60_000 });

  // Verdict: every row is scored, then the held verdict is cancelled.
  await page.evaluate(() => window.dedeDebug!.holdJobs('verdict'));
  await nav(page, 'Scan').click();
  const step = page.getByTestId('step-scan');
  await step.getByRole('button', { name: 'Scan', exact: true }).click();
  const scan = page.getByTestId('scan');
  await expect(page.getByTestId('scan-done')).toHaveText(String(SUSPECT), { timeout: 60_000 });
  await expect(scan).toHaveAttribute('data-status', 'scanning');
  await step.getByRole('button', { name: 'Cancel' }).click();
  await expect(scan).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByTestId('scan-verdict')).toHaveCount(0);
  expect((await page.evaluate(() => window.dedeDebug!.scanResults())).rows).toHaveLength(SUSPECT);
  // Resuming scores nothing again and runs the verdict alone.
  await page.evaluate(() => window.dedeDebug!.holdJobs(null));
  await step.getByRole('button', { name: `Resume scan (${SUSPECT} of ${SUSPECT} done)` }).click();
  await expect(scan).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(page.getByTestId('scan-verdict')).toBeVisible();
  const { rows } = await page.evaluate(() => window.dedeDebug!.scanResults());
  expect(rows).toHaveLength(SUSPECT);
  expect(rows.filter((r) => r.flagged).length).toBeGreaterThan(0);

  // Detail views: the first builds the explain graph's session, the second builds none.
  await nav(page, 'Review').click();
  const items = page.getByTestId('review-item');
  const dialog = page.getByTestId('detail-dialog');
  const before = await page.evaluate(() => window.dedeDebug!.sessionStats());
  await items.nth(0).click();
  await expect(dialog.getByTestId('detail-recon')).toHaveAttribute('data-drawn', 'true', { timeout: 60_000 });
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  const afterFirst = await page.evaluate(() => window.dedeDebug!.sessionStats());
  expect(afterFirst.created).toBeGreaterThan(before.created);
  expect(afterFirst.kept.some((k) => k.startsWith('explain:'))).toBe(true);
  await items.nth(1).click();
  await expect(dialog.getByTestId('detail-recon')).toHaveAttribute('data-drawn', 'true', { timeout: 60_000 });
  await page.keyboard.press('Escape');
  const afterSecond = await page.evaluate(() => window.dedeDebug!.sessionStats());
  expect(afterSecond.created).toBe(afterFirst.created);

  // Reveal: cancelled while it runs, Review stays usable, and it runs to the end afterwards.
  const clusters = page.getByTestId('clusters-card');
  const reveal = clusters.getByRole('button', { name: /Reveal/ });
  await page.evaluate(() => window.dedeDebug!.holdJobs('reveal'));
  await reveal.click();
  await clusters.getByRole('button', { name: 'Cancel' }).click();
  await expect(clusters.getByText('Cancelled.')).toBeVisible();
  await expect(reveal).toBeEnabled();
  await expect(items.first()).toBeVisible();
  await page.evaluate(() => window.dedeDebug!.holdJobs(null));
  await reveal.click();
  await expect(clusters.getByTestId('cluster').first().or(clusters.getByText(/no collapse found/))).toBeVisible({ timeout: 120_000 });
  await expect(clusters.getByText('Cancelled.')).toHaveCount(0);
  expect((await page.evaluate(() => window.dedeDebug!.scanResults())).rows).toHaveLength(SUSPECT);
});
