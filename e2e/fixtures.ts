// Every e2e test fails on a console error, an uncaught page error, or a request that leaves the
// app's origin (the product promises that nothing leaves the machine).
import { test as base, expect } from '@playwright/test';

export interface Guard {
  /** Console errors matching one of these are expected by the test (e.g. a deliberate 404). */
  allowConsoleErrors(...patterns: RegExp[]): void;
  /** A second origin the test legitimately talks to (e.g. the local stand-in for the hub). */
  allowOrigin(origin: string): void;
}

export const test = base.extend<{ guard: Guard }>({
  guard: async ({ page, baseURL }, use) => {
    const origin = new URL(baseURL ?? 'http://127.0.0.1').origin;
    const allowed: RegExp[] = [];
    const origins = new Set([origin]);
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      if (!allowed.some((re) => re.test(text))) problems.push(`console error: ${text}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.context().on('request', (req) => {
      const url = req.url();
      if (url.startsWith('data:') || url.startsWith('blob:')) return;
      if (!origins.has(new URL(url).origin)) problems.push(`request to another origin: ${url}`);
    });
    await use({
      allowConsoleErrors: (...patterns) => allowed.push(...patterns),
      allowOrigin: (o) => origins.add(new URL(o).origin),
    });
    expect(problems, problems.join('\n')).toEqual([]);
  },
});

export { expect };

/**
 * Main-thread responsiveness: call before page.goto; `window.__longTasks` then collects every
 * long task (PerformanceObserver 'longtask', > 50 ms) with its start time.
 */
/**
 * The longest main-thread task the app may take during long work (training, scanning, scrolling).
 * 200 ms on an idle machine (CI); E2E_LONG_TASK_MS loosens it on a machine shared with other heavy
 * jobs, where the scheduler, not the app, stretches tasks.
 */
export const LONG_TASK_BUDGET_MS = Number(process.env['E2E_LONG_TASK_MS'] ?? 200);

export async function recordLongTasks(page: import('@playwright/test').Page): Promise<void> {
  await page.addInitScript(() => {
    const tasks: { start: number; duration: number }[] = [];
    (window as unknown as { __longTasks: typeof tasks }).__longTasks = tasks;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) tasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
}

/** Durations of the main-thread long tasks that started at or after `since` (performance.now()). */
export async function longTasksSince(page: import('@playwright/test').Page, since: number): Promise<number[]> {
  return page.evaluate((t0) => {
    const tasks = (window as unknown as { __longTasks?: { start: number; duration: number }[] }).__longTasks ?? [];
    return tasks.filter((t) => t.start >= t0).map((t) => t.duration);
  }, since);
}

/** The longest main-thread task that started at or after `since`. */
export async function longestTaskSince(page: import('@playwright/test').Page, since: number): Promise<number> {
  return Math.max(0, ...(await longTasksSince(page, since)));
}

/** The page's performance.now(), to mark the start of a measured window. */
export function pageNow(page: import('@playwright/test').Page): Promise<number> {
  return page.evaluate(() => performance.now());
}
