// "Provably local": the page and its workers talk to the app's own origin and the configured hub,
// nothing else; the Content-Security-Policy refuses anything else; the shell's privacy badge shows
// what was measured, and the HTML report records the policy in force.
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from './fixtures';
import { startHubServer, type HubServer } from './hub-server';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../src/testing/tiny-encoder';
import { loadHubEncoder, nav, setHubEndpoint, trainCalibrateScan, writePngFolder } from './workflow-steps';

// The service worker is part of what is tested here (playwright.config.ts blocks it elsewhere).
test.use({ serviceWorkers: 'allow' });

let hub: HubServer;
/** A live server on another origin that counts what reaches it: a refused request never does. */
let other: { url: string; hits: string[]; close: () => Promise<void> };
const root = mkdtempSync(join(tmpdir(), 'dede-local-e2e-'));

test.beforeAll(async () => {
  hub = await startHubServer({ 'acme/tiny-encoder/model.onnx': tinyEncoderBytes(), 'acme/tiny-encoder/preprocessor_config.json': PREPROCESSOR_CONFIG }, 0);
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' }).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  other = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
});
test.afterAll(async () => {
  await hub.close();
  await other.close();
});

test('the policy lets the page reach only the app and the hub, and workers only the app', async ({ page, guard }) => {
  guard.allowOrigin(hub.endpoint);
  // The refusals this test provokes are logged as console errors; only those are expected.
  guard.allowConsoleErrors(new RegExp(`^(?=.*Content Security Policy)(?=.*(${other.url}|${hub.endpoint})/)`));
  await page.goto('/');
  await setHubEndpoint(page, hub.endpoint);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  const policies = await page.evaluate(() => [...document.querySelectorAll<HTMLMetaElement>('meta[http-equiv="Content-Security-Policy"]')].map((m) => m.content));
  expect(policies).toHaveLength(2); // the static one in index.html, narrowed by the saved hub
  expect(policies[1]).toContain(`connect-src 'self' ${hub.endpoint};`);
  expect(policies[1]).toContain("script-src 'self' 'wasm-unsafe-eval';");

  // The hub answers (the policy is not simply closed)...
  const hubStatus = await page.evaluate((u) => fetch(u).then((r) => r.status), `${hub.endpoint}/api/models/acme/tiny-encoder`);
  expect(hubStatus).toBe(200);
  // ...another origin never hears from the page, even though it is up and would answer.
  const attempt = await page.evaluate(async (u) => {
    const violation = new Promise<{ uri: string; directive: string }>((resolve) =>
      document.addEventListener('securitypolicyviolation', (e) => resolve({ uri: e.blockedURI, directive: e.effectiveDirective }), { once: true }),
    );
    const outcome = await fetch(u, { method: 'POST', body: 'the user data' }).then(
      () => 'answered',
      (e: unknown) => `rejected: ${String(e)}`,
    );
    return { outcome, violation: await violation };
  }, `${other.url}/collect`);
  expect(attempt.outcome).toMatch(/^rejected/);
  expect(attempt.violation).toEqual({ uri: `${other.url}/collect`, directive: 'connect-src' });

  // Workers carry their own policy (from their script's response): their origin only, not even the hub.
  await expect.poll(() => page.workers().some((w) => w.url().includes('/assets/model.worker'))).toBe(true);
  const worker = page.workers().find((w) => w.url().includes('/assets/model.worker'))!;
  const fromWorker = await worker.evaluate(async ([a, b]) => {
    const tryFetch = (u: string) => fetch(u).then(() => 'answered', () => 'rejected');
    return [await tryFetch(a), await tryFetch(b), await tryFetch('/manifest.webmanifest')];
  }, [`${other.url}/from-worker`, `${hub.endpoint}/api/models/acme/tiny-encoder`] as const);
  expect(fromWorker).toEqual(['rejected', 'rejected', 'answered']);
  expect(other.hits).toEqual([]);

  // A model link on another host is refused up front, with what to do instead.
  await page.getByLabel('Model URL or repo id').fill(`${other.url}/model.onnx`);
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText(`${other.url} is not the model hub set in Settings (${hub.endpoint})`);
  expect(other.hits).toEqual([]);

  // The badge measured it all: one download from the hub, nothing sent, the refusals listed.
  const badge = page.getByTestId('privacy-badge');
  await expect(badge).toHaveText('0 bytes sent · 1 download');
  await expect(badge).toHaveAttribute('title', `1 download from ${new URL(hub.endpoint).host} · 0 bytes of your data sent (click for details)`);
  await expect(badge).toHaveAttribute('data-bytes-sent', '0');
  // Three refusals: the page's, and the worker's two (workers report to the page's ledger).
  await expect(badge).toHaveAttribute('data-blocked', '3');
  await badge.click();
  const dialog = page.getByRole('dialog', { name: 'Network activity' });
  await expect(dialog.getByTestId('privacy-blocked')).toContainText(`${other.url}/collect (connect-src)`);
  await expect(dialog.getByTestId('privacy-blocked')).toContainText(`${other.url}/from-worker (connect-src)`);
  await expect(dialog.getByTestId('privacy-policy').last()).toContainText(`connect-src 'self' ${hub.endpoint};`);
  await page.screenshot({ path: 'test-results/screens/privacy-dialog.png' });
  await dialog.getByRole('button', { name: 'Close' }).click();

  // And it would show data leaving: a body the hub accepts is counted.
  expect(await page.evaluate((u) => fetch(u, { method: 'POST', body: '12345' }).then((r) => r.status), `${hub.endpoint}/api/models/acme/tiny-encoder`)).toBe(200);
  await expect(badge).toHaveAttribute('data-bytes-sent', '5');
  await expect(badge).toHaveClass(/badge-warn/);
  await expect(badge).toHaveText('5 bytes sent · 2 downloads');
});

test('a whole workflow talks only to the app and the hub, sends nothing, and its report records the policy', async ({ page, guard, baseURL }) => {
  test.setTimeout(300_000);
  guard.allowOrigin(hub.endpoint);
  const appOrigin = new URL(baseURL!).origin;
  const requests: { url: string; sw: boolean }[] = [];
  page.context().on('request', (r) => requests.push({ url: r.url(), sw: r.serviceWorker() !== null }));
  const clean = await writePngFolder(root, 'clean-reference', 80, 0);
  const suspect = await writePngFolder(root, 'suspect', 12, 1000);

  await page.goto('/');
  await setHubEndpoint(page, hub.endpoint);
  await loadHubEncoder(page, 'acme/tiny-encoder', 'model.onnx');
  await trainCalibrateScan(page, clean, 80, suspect, 12);

  await nav(page, 'Report').click();
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download HTML' }).click();
  const report = readFileSync(await (await download).path(), 'utf8');
  const privacy = /<section><h2>Privacy<\/h2>.*?<\/section>/s.exec(report)?.[0] ?? '';
  expect(privacy).toContain(`downloads from ${new URL(hub.endpoint).host} · 0 bytes of your data sent`);
  expect(privacy).toContain(`connect-src &#39;self&#39; ${hub.endpoint};`);

  const badge = page.getByTestId('privacy-badge');
  await expect(badge).toHaveAttribute('data-bytes-sent', '0');
  await expect(badge).toHaveAttribute('data-unknown-sends', '0');
  await expect(badge).toHaveAttribute('data-blocked', '0');
  await expect(badge).toHaveText(/^0 bytes sent · \d+ downloads$/);
  await badge.click();
  await expect(page.getByTestId('privacy-headline')).toHaveText(new RegExp(`^\\d+ downloads from ${new URL(hub.endpoint).host} · 0 bytes of your data sent$`));
  await page.screenshot({ path: 'test-results/screens/privacy-workflow.png' });

  // Every request of the page, its workers and the service worker: the app's origin or the hub.
  const origins = new Set(requests.filter((r) => !/^(data|blob):/.test(r.url)).map((r) => new URL(r.url).origin));
  expect([...origins].sort()).toEqual([appOrigin, hub.endpoint].sort());
  const hubPaths = requests.filter((r) => r.url.startsWith(hub.endpoint)).map((r) => new URL(r.url).pathname);
  expect(hubPaths).toContain('/api/models/acme/tiny-encoder/revision/main');
  expect(hubPaths.filter((p) => p.endsWith('/model.onnx'))).toHaveLength(1);
  // The recording covers the workers (ORT's wasm is fetched by the model worker) and the service
  // worker's precaching too.
  expect(requests.some((r) => /\.wasm$/.test(r.url))).toBe(true);
  expect(requests.filter((r) => r.sw).length).toBeGreaterThan(0);
  console.log(`local: ${requests.length} requests (${hubPaths.length} to the hub, ${requests.filter((r) => r.sw).length} from the service worker), origins ${[...origins].join(', ')}`);
});
