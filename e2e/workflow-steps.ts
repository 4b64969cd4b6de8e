// The steps the workflow e2e tests share, as a user does them: a local encoder, image folders
// through the folder input, a training run of a few epochs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import sharp from 'sharp';
import { expect } from './fixtures';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../src/testing/tiny-encoder';

/** Writes the tiny test encoder and its preprocessor config into `dir`; returns the two paths. */
export function writeEncoderFolder(dir: string): [string, string] {
  mkdirSync(dir, { recursive: true });
  const files: [string, string] = [join(dir, 'encoder.onnx'), join(dir, 'preprocessor_config.json')];
  writeFileSync(files[0], tinyEncoderBytes());
  writeFileSync(files[1], PREPROCESSOR_CONFIG);
  return files;
}

export function nav(page: Page, step: string) {
  return page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: step });
}

export async function loadLocalEncoder(page: Page, files: readonly string[]): Promise<void> {
  await page.getByTestId('encoder-file-input').setInputFiles([...files]);
  await expect(page.getByTestId('encoder-summary')).toBeVisible();
}

/** Adds a folder in the Images step and waits until its `images` images are loaded. */
export async function addFolder(page: Page, dir: string, name: string, images: number): Promise<void> {
  await page.getByTestId('images-folder-input').setInputFiles(dir);
  await expect(page.locator(`[data-dataset-name="${name}"]`).getByTestId('count-images')).toHaveText(images.toLocaleString('en'));
}

/** On the Train step: sets the epochs and starts training (does not wait for the end). */
export async function startTraining(page: Page, epochs: number): Promise<void> {
  await page.getByLabel('Epochs').fill(String(epochs));
  await page.getByRole('button', { name: 'Start training' }).click();
}

/**
 * Sets the hub endpoint in Settings. A new endpoint reloads the page (its security policy names the
 * one hub it may connect to); this waits for that reload.
 */
export async function setHubEndpoint(page: Page, endpoint: string): Promise<void> {
  await page.getByRole('button', { name: 'Settings' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel(/Hub endpoint/).fill(endpoint);
  await Promise.all([page.waitForEvent('load'), dialog.getByRole('button', { name: 'Save' }).click()]);
  await expect(page.getByTestId('privacy-badge')).toBeVisible();
}

/** Loads `file` from a hub repo through the Encoder step, as a user pastes `repo` and picks the file. */
export async function loadHubEncoder(page: Page, repo: string, file: string): Promise<void> {
  await page.getByLabel('Model URL or repo id').fill(repo);
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await page.getByRole('button', { name: `Load ${file}` }).click();
  await expect(page.getByTestId('encoder-summary')).toBeVisible();
}

/** Writes `count` smooth 32×32 test pictures as PNGs into `dir/name`; returns the folder. */
export async function writePngFolder(dir: string, name: string, count: number, seed: number): Promise<string> {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < count; i++) {
    const px = new Uint8Array(32 * 32 * 3);
    for (let p = 0; p < px.length; p++) px[p] = Math.round(127 + 120 * Math.sin(p / (7 + ((seed + i) % 5)) + seed + i));
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(folder, `${name}-${i}.png`));
  }
  return folder;
}

/** With the folders added: trains a decoder for `epochs` epochs and calibrates on the held-back clean images. */
export async function trainAndCalibrate(page: Page, epochs = 2): Promise<void> {
  await nav(page, 'Train').click();
  await startTraining(page, epochs);
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await nav(page, 'Calibrate').click();
  await page.getByRole('button', { name: /Score \d+ held-back clean images/ }).click();
  await expect(page.getByTestId('calibration')).toBeVisible({ timeout: 60_000 });
}

/** From the Images step on: adds a clean (`clean` images) and a suspect folder, trains, calibrates, scans. */
export async function trainCalibrateScan(page: Page, cleanDir: string, clean: number, suspectDir: string, suspect: number): Promise<void> {
  await nav(page, 'Images').click();
  await addFolder(page, cleanDir, 'clean-reference', clean);
  await addFolder(page, suspectDir, 'suspect', suspect);
  await trainAndCalibrate(page);
  await nav(page, 'Scan').click();
  await page.getByRole('main').getByRole('button', { name: 'Scan', exact: true }).click();
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(page.getByTestId('scan-done')).toHaveText(String(suspect));
}

/** The step of the run's checkpoint as saved in OPFS: 0 while none is complete (a save in flight leaves an empty file). */
export function savedCheckpointStep(page: Page, runId: string): Promise<number> {
  return page.evaluate(async (id) => {
    try {
      const root = await navigator.storage.getDirectory();
      const runs = await (await root.getDirectoryHandle('dede-workflow')).getDirectoryHandle('runs');
      const file = await (await (await runs.getDirectoryHandle(id)).getFileHandle('state.ckpt')).getFile();
      const bytes = new Uint8Array(await file.arrayBuffer());
      if (bytes.length < 12) return 0;
      const length = new DataView(bytes.buffer).getUint32(8, true);
      return (JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length))) as { step: number }).step;
    } catch {
      return 0;
    }
  }, runId);
}
