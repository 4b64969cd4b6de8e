// Offline: after one visit, the service worker serves the app with the network off, cross-origin
// isolation still holds, the encoder loads from the hub's cached copy, and a full scan runs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {} from '../src/app/backend/debug-handle';
import { expect, test } from './fixtures';
import { startHubServer, type HubServer } from './hub-server';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../src/testing/tiny-encoder';
import { loadHubEncoder, setHubEndpoint, trainCalibrateScan, writePngFolder } from './workflow-steps';

// The service worker is part of what is tested here (playwright.config.ts blocks it elsewhere).
test.use({ serviceWorkers: 'allow' });

let hub: HubServer;
const root = mkdtempSync(join(tmpdir(), 'dede-offline-e2e-'));

test.beforeAll(async () => {
  hub = await startHubServer({ 'acme/tiny-encoder/model.onnx': tinyEncoderBytes(), 'acme/tiny-encoder/preprocessor_config.json': PREPROCESSOR_CONFIG }, 0);
});
test.afterAll(() => hub.close());

test('after one visit the app opens offline, loads the cached encoder and scans', async ({ page, context, guard }) => {
  test.setTimeout(300_000);
  guard.allowOrigin(hub.endpoint);
  // Offline, the hub's model API cannot be reached: Chromium logs the failed request.
  guard.allowConsoleErrors(/net::ERR_INTERNET_DISCONNECTED/);
  const clean = await writePngFolder(root, 'clean-reference', 80, 0);
  const suspect = await writePngFolder(root, 'suspect', 12, 1000);

  // First visit: the encoder comes from the hub into the model cache; the service worker installs.
  await page.goto('/');
  await setHubEndpoint(page, hub.endpoint);
  await loadHubEncoder(page, 'acme/tiny-encoder', 'model.onnx');
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  const precached = await page.evaluate(async () => {
    const names = await caches.keys();
    const app = names.find((n) => n.startsWith('dede-app-'));
    return app ? (await (await caches.open(app)).keys()).map((r) => new URL(r.url).pathname) : [];
  });
  expect(precached).toContain('/');
  expect(precached.some((p) => /^\/assets\/model\.worker-.*\.js$/.test(p))).toBe(true);
  expect(precached.filter((p) => p.endsWith('.wasm'))).toHaveLength(2);
  const hubFilesBefore = hub.fileRequests.length;

  await context.setOffline(true);
  // The network is really off for the page: a request the service worker leaves alone fails.
  expect(await page.evaluate(() => fetch('/not-part-of-the-app.txt').then(() => 'online', () => 'offline'))).toBe('offline');
  const response = await page.reload();
  expect(response?.fromServiceWorker()).toBe(true);
  expect(response?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

  // The same repo again, as a user would: listing and file come from the cache, and it says so.
  await loadHubEncoder(page, 'acme/tiny-encoder', 'model.onnx');
  await expect(page.getByText('The hub could not be reached; these are the files of acme/tiny-encoder saved on this device.')).toBeVisible();
  await expect(page.getByText(/The hub could not be reached; using the copy of model\.onnx saved \d{4}-\d\d-\d\d\./)).toBeVisible();
  await page.getByRole('button', { name: 'Test run' }).click();
  await expect(page.getByTestId('encoder-test-run')).toContainText('[2, 128]');

  await trainCalibrateScan(page, clean, 80, suspect, 12);
  const { rows } = await page.evaluate(() => window.dedeDebug!.scanResults());
  expect(rows).toHaveLength(12);
  expect(rows.every((r) => Number.isFinite(r.score))).toBe(true);
  expect(hub.fileRequests.length).toBe(hubFilesBefore);
  // The badge counts the hub requests that got no answer, and no download.
  const badge = page.getByTestId('privacy-badge');
  await expect(badge).toHaveText('0 bytes sent');
  expect(Number(await badge.getAttribute('data-other-requests'))).toBeGreaterThan(0);
  await page.screenshot({ path: 'test-results/screens/offline-scan.png' });
});

test('the app is installable, and a new version waits until the user reloads onto it', async ({ page, context, guard }) => {
  void guard;
  await page.goto('/');
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
  // Playwright's contexts are incognito-like, which alone keeps Chromium from offering an install.
  expect(installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito')).toEqual([]);

  // A new version: registering the worker under another URL for the same scope installs it as an
  // update (Playwright cannot rewrite the browser's own fetch of /sw.js to fake a new build). It
  // waits beside the running one; the page keeps its worker until the user reloads onto the new one.
  const oldScript = await page.evaluate(() => navigator.serviceWorker.controller!.scriptURL);
  await page.evaluate(() => navigator.serviceWorker.register('/sw.js?version=2', { type: 'module', scope: '/' }));
  const banner = page.getByTestId('update-ready');
  await expect(banner).toContainText('New version ready');
  expect(await page.evaluate(() => navigator.serviceWorker.controller!.scriptURL)).toBe(oldScript);
  await Promise.all([page.waitForEvent('load'), banner.getByRole('button', { name: 'Reload' }).click()]);
  expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toMatch(/\/sw\.js\?version=2$/);
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-state', 'ready');
});
