import type { Page } from '@playwright/test';
import type {} from '../src/app/backend/debug-handle';
import { expect, test } from './fixtures';
import { K, N, referenceModelCase } from './reference-model';

async function runReferenceModel(page: Page): Promise<number> {
  const { bytes, x, expected } = referenceModelCase();
  const y = await page.evaluate(
    async ({ bytes, x, dims }) => {
      const handle = window.dedeDebug;
      if (!handle) throw new Error('window.dedeDebug missing');
      const out = await handle.runModel(new Uint8Array(bytes), { x: { dims, data: new Float32Array(x) } });
      return Array.from(out['y']!.data);
    },
    { bytes: Array.from(bytes), x: Array.from(x), dims: [N, K] },
  );
  expect(y).toHaveLength(expected.length);
  return Math.max(...y.map((v, i) => Math.abs(v - expected[i]!)));
}

test('WASM (default on a software adapter) runs a model built by the test, matching JS to 1e-4', async ({ page, guard }) => {
  void guard;
  await page.goto('/');
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-ep', 'wasm');
  expect(await runReferenceModel(page)).toBeLessThan(1e-4);
});

test('forced WebGPU (?ep=webgpu) runs the same model in the worker, matching JS to 1e-4', async ({ page, guard }) => {
  void guard;
  await page.goto('/?ep=webgpu');
  const badge = page.getByTestId('backend-badge');
  await expect(badge).toHaveAttribute('data-ep', 'webgpu');
  await expect(badge).toHaveText(/WebGPU · .*swiftshader/i);
  const info = await page.evaluate(() => window.dedeDebug!.backendInfo());
  expect(info).toMatchObject({ ep: 'webgpu', adapter: { isFallbackAdapter: true }, fallbackReason: null });
  expect(await runReferenceModel(page)).toBeLessThan(1e-4);
  await page.screenshot({ path: 'test-results/screens/backend-webgpu.png' });
});

test('a WebGPU start failure falls back to WASM in a fresh worker and says why', async ({ page, guard }) => {
  // Break the WebGPU build's wasm: ORT cannot start, exactly like a broken driver would fail.
  guard.allowConsoleErrors(/404|Failed to load resource|asyncify|wasm|WebAssembly|Aborted\(|ArrayBuffer instantiation/i);
  await page.route('**/*asyncify*.wasm', (route) => route.fulfill({ status: 404, body: 'gone' }));
  await page.goto('/?ep=webgpu');
  const badge = page.getByTestId('backend-badge');
  await expect(badge).toHaveAttribute('data-ep', 'wasm');
  await expect(badge).toHaveText(/WASM .*\(fallback\)/);
  const info = (await page.evaluate(() => window.dedeDebug!.backendInfo())) as { fallbackReason: string; reason: string };
  expect(info.fallbackReason).toMatch(/WebGPU (start|self-test) failed/);
  expect(info.reason).toMatch(/WebGPU failed to start, so WASM is used/);
  expect(await runReferenceModel(page)).toBeLessThan(1e-4);
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('dialog')).toContainText('Fallback');
  await page.screenshot({ path: 'test-results/screens/backend-fallback.png' });
});

test('the backend setting persists and restarts the worker', async ({ page, guard }) => {
  void guard;
  await page.goto('/');
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-ep', 'wasm');
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByRole('radio', { name: /^WebGPU/ }).check();
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-ep', 'webgpu');
  await page.getByRole('button', { name: 'Close' }).click();
  await page.reload();
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-ep', 'webgpu');
});

test('a batch job reports progress and can be cancelled mid-way', async ({ page, guard }) => {
  void guard;
  await page.goto('/');
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-state', 'ready');
  const { bytes, x, expected } = referenceModelCase();
  const run = (cancelAfter: number | null) =>
    page.evaluate(
      async ({ bytes, x, dims, cancelAfter, count }) => {
        const batches = Array.from({ length: count }, () => ({ x: { dims, data: new Float32Array(x) } }));
        const report = await window.dedeDebug!.runBatches(new Uint8Array(bytes), batches, cancelAfter ?? undefined);
        return { ...report, outputs: report.outputs?.map((o) => Array.from(o['y']!.data)) ?? null };
      },
      { bytes: Array.from(bytes), x: Array.from(x), dims: [N, K], cancelAfter, count: cancelAfter === null ? 40 : 2000 },
    );
  const full = await run(null);
  expect(full.error).toBeNull();
  expect(full.progress.map((p) => p.done)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  expect(full.outputs).toHaveLength(40);
  for (const y of full.outputs!) expect(Math.max(...y.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-4);

  const cancelled = await run(3);
  expect(cancelled.error).toMatch(/Cancelled by the user/);
  expect(cancelled.outputs).toBeNull();
  // The cancel reaches the worker between runs: it stops well before the end.
  expect(cancelled.progress.length).toBeGreaterThanOrEqual(3);
  expect(cancelled.progress.length).toBeLessThan(2000);
});
