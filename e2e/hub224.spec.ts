// 224-px encoders as users paste them: Hugging Face repos in the transformers.js layout (configs at
// the root, models under onnx/ with variant siblings), served by the local hub mirror. Each loads
// from `org/repo` with its preprocessing read from the root config and its embedding chosen from
// config.json, with no manual step; the BadEncoder fixture at 224 px then goes through the whole
// workflow on 224-px JPEG photos.
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Download, Page } from '@playwright/test';
import { readHubFixtureRepo, type HubFixtureRepo } from '../scripts/fixtures/hub-fixtures';
import { writePhotoFolders, type PhotoFolders } from '../scripts/fixtures/photos224';
import { DEMO_224_REPOS, demoEncoder224RepoFiles } from '../scripts/fixtures/wrap224';
import type { ScanReport } from '../src/core/report/scan-report';
import { expect, test } from './fixtures';
import { startHubServer, type HubServer } from './hub-server';
import { addFolder, loadHubEncoder, nav, setHubEndpoint, startTraining } from './workflow-steps';

let hub: HubServer;
let photos: PhotoFolders;

test.beforeAll(async () => {
  const files: Record<string, Uint8Array> = {};
  const add = (repo: string, tree: Record<string, Uint8Array>) => {
    for (const [path, bytes] of Object.entries(tree)) files[`${repo}/${path}`] = bytes;
  };
  for (const repo of ['acme/vit-tiny-224', 'acme/resnet-tiny-224', 'acme/clip-tiny-224'] as const satisfies readonly HubFixtureRepo[]) add(repo, readHubFixtureRepo(repo));
  add(DEMO_224_REPOS.badencoder, demoEncoder224RepoFiles('badencoder'));
  hub = await startHubServer(files, 0);
  photos = await writePhotoFolders(mkdtempSync(join(tmpdir(), 'dede-224-e2e-')));
});
test.afterAll(() => hub.close());

async function pickPreselected(page: Page, repo: string): Promise<void> {
  await page.getByLabel('Model URL or repo id').fill(repo);
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await page.getByTestId('repo-preselected-row').getByRole('button').click();
  await expect(page.getByTestId('encoder-summary')).toBeVisible();
}

test('ViT, ResNetModel and CLIP vision repos load from org/repo with their root preprocessing and embedding, no manual step', async ({ page, guard }) => {
  guard.allowOrigin(hub.endpoint);
  test.setTimeout(240_000);
  await page.goto('/');
  await setHubEndpoint(page, hub.endpoint);
  const summary = page.getByTestId('encoder-summary');
  const cases = [
    {
      repo: 'acme/vit-tiny-224',
      file: 'onnx/model.onnx',
      preprocessing: '224×224, mean [0.5, 0.5, 0.5], std [0.5, 0.5, 0.5] (from preprocessor_config.json at the repo root); photos: resize to 224×224 (bilinear)',
      readout: /last_hidden_state.*CLS/i,
      dim: 64,
    },
    {
      repo: 'acme/resnet-tiny-224',
      file: 'onnx/model.onnx',
      preprocessing: '(from preprocessor_config.json at the repo root); photos: crop_pct 0.875: resize short edge to 256 (bicubic), centre crop 224×224',
      readout: /pooler_output.*flatten/i,
      dim: 64,
    },
    {
      repo: 'acme/clip-tiny-224',
      file: 'onnx/vision_model.onnx',
      preprocessing: '(from preprocessor_config.json at the repo root); photos: resize short edge to 224 (bicubic), centre crop 224×224',
      readout: /image_embeds/,
      dim: 32,
    },
  ];
  for (const c of cases) {
    await pickPreselected(page, c.repo);
    await expect(summary.getByRole('heading')).toHaveText(c.file);
    await expect(summary).toContainText(/pixel_values: float32 \[\S*, 3, 224, 224\]/);
    await expect(summary).toContainText(c.preprocessing);
    await expect(page.getByTestId('readout-picker')).toContainText(c.readout);
    await expect(page.getByTestId('readout-reason')).toContainText(`${c.dim} values per image`);
    await page.getByRole('button', { name: 'Test run' }).click();
    await expect(page.getByTestId('encoder-test-run')).toContainText(`→ [2, ${c.dim}]`);
    await page.screenshot({ path: `test-results/screens/hub224-${c.repo.split('/')[1]}.png`, fullPage: true });
    // The Images step now stores photos at the encoder's input size through its own preprocessing.
    await nav(page, 'Images').click();
    await expect(page.getByTestId('images-working-size')).toHaveText('224×224 (the encoder’s input)');
    await expect(page.getByTestId('images-resize-plan')).toContainText(c.preprocessing.split('photos: ')[1]!);
    await nav(page, 'Encoder').click();
  }
});

async function saved(download: Promise<Download>): Promise<string> {
  return readFile(await (await download).path(), 'utf8');
}

test('the 224-px BadEncoder fixture goes drop → train → calibrate → scan → review → report', async ({ page, guard }) => {
  guard.allowOrigin(hub.endpoint);
  test.setTimeout(600_000);
  await page.goto('/');
  await setHubEndpoint(page, hub.endpoint);
  await loadHubEncoder(page, DEMO_224_REPOS.badencoder, 'onnx/model.onnx');
  await expect(page.getByTestId('readout-picker')).toContainText(/pooler_output/);

  await nav(page, 'Images').click();
  await addFolder(page, join(photos.dir224, 'clean-reference'), 'clean-reference', 200);
  await addFolder(page, join(photos.dir224, 'suspect'), 'suspect', 200);
  await page.screenshot({ path: 'test-results/screens/hub224-images.png', fullPage: true });

  await nav(page, 'Train').click();
  await page.locator('summary', { hasText: 'Advanced' }).click();
  await expect(page.getByTestId('decoder-size-reason')).toContainText('Images are stored at 224×224 (the encoder’s input). The decoder learns at 32×32, an area-averaged copy of the 224×224 crop');
  await startTraining(page, 8);
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 300_000 });
  // Between epochs the 224-px suspect JPEGs were embedded, and the set-level check decided from them:
  // the 40 photos stamped at full resolution collapse onto the attacker's target.
  await expect(page.getByTestId('train-prefetch')).toHaveAttribute('data-finished', '1');
  await expect(page.getByTestId('train-prefetch')).toHaveAttribute('data-folders', '1');
  await expect(page.getByTestId('train-early-gate')).toHaveAttribute('data-open', 'true');
  // Eight epochs are under the rule's minimum of ten: the budget ended it, and the step says where it stood.
  await expect(page.getByTestId('train-stop-reason')).toHaveAttribute('data-stopped-by', 'epochs');
  await expect(page.getByTestId('train-convergence')).toContainText('Judged from epoch 10');
  await page.screenshot({ path: 'test-results/screens/hub224-train.png', fullPage: true });

  await nav(page, 'Calibrate').click();
  await page.getByRole('button', { name: /Score \d+ held-back clean images/ }).click();
  await expect(page.getByTestId('calibration')).toBeVisible({ timeout: 120_000 });

  await nav(page, 'Scan').click();
  await page.getByRole('main').getByRole('button', { name: 'Scan', exact: true }).click();
  await expect(page.getByTestId('scan')).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  await expect(page.getByTestId('scan-done')).toHaveText('200');

  await nav(page, 'Review').click();
  await expect(page.getByTestId('gallery')).toBeVisible();
  // Reveal by example on 224-px photos: the clean folder is flat (no class folders), so the
  // cluster is shown as its nearest clean photos, without a class name.
  await page.getByRole('button', { name: 'Reveal what the backdoor maps to' }).click();
  const cluster = page.getByTestId('cluster').first();
  await expect(cluster).toBeVisible({ timeout: 120_000 });
  await expect(cluster.getByTestId('cluster-headline')).toHaveAttribute('data-label', '');
  await expect(cluster.getByTestId('cluster-headline')).toContainText('The encoder sees these photos as the clean photos below (from “clean-reference”');
  await expect(cluster.getByTestId('cluster-example')).toHaveCount(5);
  for (const ex of await cluster.getByTestId('cluster-example').all()) {
    expect(await ex.getAttribute('data-path')).toMatch(/^clean-reference\/[^/]+\.jpg$/);
    await expect(ex.locator('canvas')).toHaveAttribute('data-drawn', 'true');
  }
  await page.screenshot({ path: 'test-results/screens/hub224-review.png', fullPage: true });

  await nav(page, 'Report').click();
  const report = JSON.parse(await saved((async () => {
    const d = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download JSON' }).click();
    return d;
  })())) as ScanReport;
  expect(report.summary.scanned).toBe(200);
  expect(report.encoder.readout).toMatchObject({ output: 'pooler_output', pooling: 'flatten' });
  // The 40 photos stamped at full resolution collapse onto the attacker's target: all ranked first.
  const triggered = new Set(photos.suspect.filter((r) => r.triggered).map((r) => r.file.replace(/^suspect\//, '')));
  const ranked = [...report.images].sort((a, b) => b.score - a.score).slice(0, 40);
  expect(ranked.filter((r) => triggered.has(r.path.split('/').pop()!)).length).toBeGreaterThanOrEqual(38);
  // The revealed cluster is in the JSON report: triggered members, five clean examples, no class.
  const [revealed] = report.clusters ?? [];
  expect(revealed!.members.filter((m) => triggered.has(m.split('/').pop()!)).length).toBeGreaterThanOrEqual(Math.ceil(0.9 * revealed!.members.length));
  expect(revealed!.seenAs.labels).toEqual([]);
  expect(revealed!.seenAs.examples).toHaveLength(5);
  // How training ended rides in the report.
  expect(report.decoder.training).toMatchObject({ stoppedBy: 'epochs', epochs: 8, convergedAtEpoch: null });
  expect(report.decoder.training!.heldBackLoss).toBeGreaterThan(0);
  const html = await saved((async () => {
    const d = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download HTML' }).click();
    return d;
  })());
  expect(html).toContain('pooler_output');
  expect(html).toContain(report.encoder.sha256);
  expect(html).toMatch(/<dt>Training<\/dt><dd>ran its whole budget of 8 epochs \(held-back loss [\d.]+\)<\/dd>/);
});
