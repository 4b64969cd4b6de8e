// The steps the workflow e2e tests share, as a user does them: a local encoder, image folders
// through the folder input, a training run of a few epochs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect } from './fixtures';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from './tiny-encoder';

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
