import { expect, test } from './fixtures';

test('the shell shows the backend badge and every workflow step', async ({ page, guard }) => {
  void guard;
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'DeDe Web' })).toBeVisible();
  const badge = page.getByTestId('backend-badge');
  // SwiftShader is a fallback adapter, so automatic mode must pick multithreaded WASM.
  await expect(badge).toHaveAttribute('data-state', 'ready');
  await expect(badge).toHaveAttribute('data-ep', 'wasm');
  await expect(badge).toHaveText(/WASM · [2-4] threads/);
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
  for (const step of ['Encoder', 'Images', 'Train', 'Calibrate', 'Scan', 'Review', 'Report']) {
    await page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: step }).click();
    await expect(page.getByRole('heading', { level: 2, name: step })).toBeVisible();
  }
  await page.screenshot({ path: 'test-results/screens/shell-report.png' });
});
