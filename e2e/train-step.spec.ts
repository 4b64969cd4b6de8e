// The Train step in the built app: a local encoder and a clean folder, training in the worker,
// the loss curve, export of the decoder file, and resume after a reload mid-training.
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import sharp from 'sharp';
import { importDecoder } from '../src/core/dede/decoder-file';
import { expect, longestTaskSince, pageNow, recordLongTasks, test, LONG_TASK_BUDGET_MS } from './fixtures';
import { addFolder, loadLocalEncoder, nav, savedCheckpointStep, startTraining, writeEncoderFolder } from './workflow-steps';

const root = mkdtempSync(join(tmpdir(), 'dede-train-e2e-'));
const encoderFiles = writeEncoderFolder(join(root, 'encoder'));
const cleanDir = join(root, 'clean-reference');

test.beforeAll(async () => {
  mkdirSync(cleanDir);
  for (let i = 0; i < 40; i++) {
    const px = new Uint8Array(32 * 32 * 3);
    for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) px[p * 3 + c] = Math.round(127 + 120 * Math.sin((p % 32) / (3 + c) + i + Math.cos(p / 97)));
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(cleanDir, `img-${i}.png`));
  }
});

async function prepare(page: Page, query = ''): Promise<void> {
  await page.goto(`/${query}`);
  await loadLocalEncoder(page, encoderFiles);
  await nav(page, 'Images').click();
  await addFolder(page, cleanDir, 'clean-reference', 40);
  await nav(page, 'Train').click();
}

test('trains a decoder in the worker, shows the loss curve, and exports a decoder file that loads strictly', async ({ page, guard }) => {
  void guard;
  await prepare(page);
  await page.getByLabel('Epochs').fill('6');
  await page.getByText('Advanced').click();
  await page.getByLabel('Patch size').selectOption({ label: '8 px (16 patches)' });
  await page.getByRole('button', { name: 'Start training' }).click();
  const run = page.getByTestId('train-run');
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await expect(page.getByTestId('train-step')).toContainText('6 steps of 6');
  await expect(page.getByTestId('loss-chart')).toBeVisible();
  // The held-back images (the 10 not trained on) were scored after each of the 6 epochs; 6 is
  // below the convergence rule's minimum, so the budget ended it, and the step says so.
  await expect(page.getByTestId('held-back-chart')).toHaveAttribute('aria-label', /^Held-back loss from [\d.]+ to [\d.]+ over 6 epochs$/);
  await expect(page.getByTestId('train-stop-reason')).toHaveAttribute('data-stopped-by', 'epochs');
  await expect(page.getByTestId('train-stop-reason')).toHaveText('Stopped: the epoch budget (6 epochs) was reached; the held-back loss was still moving.');
  await page.screenshot({ path: 'test-results/screens/train-done.png', fullPage: true });
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export decoder (.onnx)' }).click();
  const file = await (await download).path();
  const decoder = importDecoder(new Uint8Array(readFileSync(file)));
  expect(decoder.cfg).toMatchObject({ imageSize: 32, patchSize: 8, embedDim: 128 });
  expect(decoder.meta.training).toMatchObject({ steps: 6, trainImages: 30, maskRatio: 0.9, blindShare: 0.25, stoppedBy: 'epochs', heldBackLoss: expect.any(Number) });
});

test('stops when the held-back loss has stopped improving, and says so', async ({ page, guard }) => {
  void guard;
  await prepare(page);
  await page.getByLabel('Epochs').fill('40');
  await page.getByText('Advanced').click();
  await page.getByLabel('Patch size').selectOption({ label: '8 px (16 patches)' });
  // A learning rate this small leaves the weights as they are: the held-back loss is flat from the
  // start, so the rule stops at its minimum epoch.
  await page.getByLabel('Learning rate').fill('0.000000001');
  await expect(page.getByLabel('Stop when converged')).toBeChecked();
  await page.getByRole('button', { name: 'Start training' }).click();
  const run = page.getByTestId('train-run');
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const reason = page.getByTestId('train-stop-reason');
  await expect(reason).toHaveAttribute('data-stopped-by', 'converged');
  await expect(reason).toHaveText(/^Stopped: converged at epoch 10: over its last 5 epochs the held-back loss and its 95th percentile improved less than \d+% on the 5 before\.$/);
  await expect(page.getByTestId('train-step')).toContainText('10 steps of 40');
  await expect(page.getByTestId('held-back-chart')).toHaveAttribute('aria-label', /over 10 epochs$/);
  // Where it stood against the rule when it stopped: both series moved less than the tolerance.
  const status = (await page.getByTestId('train-convergence').textContent())!;
  const [loss, quantile] = [...status.matchAll(/(improved|worsened) (\d+\.\d)%/g)].map((m) => (m[1] === 'improved' ? 1 : -1) * Number(m[2]));
  expect(status).toMatch(/^Over the last 5 epochs the held-back loss .* on the 5 before; training stops once both improve less than \d+%\.$/);
  expect(loss).toBeLessThan(5);
  expect(quantile).toBeLessThan(5);
  await page.screenshot({ path: 'test-results/screens/train-converged.png', fullPage: true });
  // The setting persists; turned off, the budget decides.
  await page.getByLabel('Stop when converged').uncheck();
  await page.reload();
  await expect(page.getByLabel('Stop when converged')).not.toBeChecked();
});

test('a reload mid-training resumes from the last checkpoint', async ({ page, guard }) => {
  void guard;
  await recordLongTasks(page);
  await prepare(page);
  const trainStart = await pageNow(page);
  // A long run to interrupt: the epoch budget decides, not convergence.
  await page.getByLabel('Stop when converged').uncheck();
  await startTraining(page, 500);
  const stepText = page.getByTestId('train-step');
  await expect(stepText).toContainText(/^(2[3-9]|[3-9]\d|\d{3}) steps/, { timeout: 120_000 });
  // Training runs in the worker: the page has had no task longer than 200 ms meanwhile.
  expect(await longestTaskSince(page, trainStart)).toBeLessThan(LONG_TASK_BUDGET_MS);
  // Checkpoints are written beside training: reload once the step-20 one is on disk.
  const runId = await page.evaluate(() => (JSON.parse(localStorage.getItem('dede-web/train') ?? '{}') as { state?: { run?: { runId: string } } }).state?.run?.runId ?? '');
  await expect.poll(() => savedCheckpointStep(page, runId), { timeout: 60_000, intervals: [100] }).toBeGreaterThanOrEqual(20);
  await page.reload();
  const run = page.getByTestId('train-run');
  await expect(run).toHaveAttribute('data-status', 'interrupted');
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(run).toHaveAttribute('data-status', 'training');
  // The first steps after resuming continue from the checkpoint (every 20 steps), not from zero.
  const first = Number((await stepText.textContent())!.split(' ')[0]);
  expect(first).toBeGreaterThanOrEqual(20);
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(run).toHaveAttribute('data-status', 'paused');
  await expect(page.getByTestId('train-stop-reason')).toHaveAttribute('data-stopped-by', 'paused');
  await page.screenshot({ path: 'test-results/screens/train-paused.png', fullPage: true });
});

test('a short training on forced WebGPU', async ({ page, guard }) => {
  void guard;
  test.setTimeout(400_000);
  await prepare(page, '?ep=webgpu');
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-ep', 'webgpu');
  await startTraining(page, 2);
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 360_000 });
  await expect(page.getByTestId('train-step')).toContainText('2 steps of 2');
});
