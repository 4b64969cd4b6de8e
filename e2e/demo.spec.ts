// The bundled demo, end to end on WASM: one click, and the triggered images come out on top.
import type {} from '../src/app/backend/debug-handle';
import { auroc } from '../src/core/dede/metrics';
import type { ScanReport } from '../src/core/report/scan-report';
import { readFileSync } from 'node:fs';
import { expect, longestTaskSince, recordLongTasks, test, LONG_TASK_BUDGET_MS } from './fixtures';

const labels = JSON.parse(readFileSync(new URL('../public/demo/images/labels.json', import.meta.url), 'utf8')) as {
  suspect: { file: string; triggered: number }[];
  known_poisoned: string[];
};

test('the demo trains, calibrates and scans in the browser and ranks the triggered images first (AUROC ≥ 0.9)', async ({ page, guard }) => {
  void guard;
  test.setTimeout(900_000);
  await recordLongTasks(page);
  await page.goto('/?ep=wasm');
  const demo = page.getByTestId('demo');
  const t0 = await page.evaluate(() => performance.now());
  await demo.getByRole('button', { name: 'Run the demo' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Review' })).toBeVisible({ timeout: 840_000 });
  expect(await longestTaskSince(page, t0)).toBeLessThan(LONG_TASK_BUDGET_MS);
  const { rows: all } = await page.evaluate(() => window.dedeDebug!.scanResults());
  expect(all).toHaveLength(200 + labels.known_poisoned.length);
  const rows = all.filter((r) => r.path.startsWith('suspect/'));
  expect(rows).toHaveLength(200);
  const truth = new Map([...labels.suspect.map((s) => [s.file.split('/').pop()!, s.triggered === 1] as const), ...labels.known_poisoned.map((f) => [f.split('/').pop()!, true] as const)]);
  const scores = rows.map((r) => r.score);
  const positives = rows.map((r) => truth.get(r.path.split('/').pop()!) === true);
  expect(positives.filter(Boolean)).toHaveLength(40);
  const a = auroc(scores, positives);
  const flaggedTriggered = rows.filter((r, i) => r.flagged && positives[i]).length;
  console.log(`demo: AUROC ${a.toFixed(3)}, flagged ${rows.filter((r) => r.flagged).length} of 200 (${flaggedTriggered} of 40 triggered)`);
  expect(a).toBeGreaterThanOrEqual(0.9);
  expect(flaggedTriggered).toBeGreaterThanOrEqual(36);
  // The known-poisoned folder gives the ROC card positives; the suspect folder's images are its negatives
  // (its 40 hidden triggered ones too, as the card says), so its AUROC is that of this split.
  const known = all.filter((r) => r.path.startsWith('known-poisoned/'));
  expect(known).toHaveLength(labels.known_poisoned.length);
  const rocScores = [...known, ...rows].map((r) => r.score);
  const rocLabels = [...known.map(() => true), ...rows.map(() => false)];
  await expect(page.getByTestId('auroc')).toHaveText(auroc(rocScores, rocLabels).toFixed(3));
  await expect(page.getByTestId('roc-curve')).toBeVisible();
  await page.screenshot({ path: 'test-results/screens/demo-review.png', fullPage: true });
  // The scan's two folders were embedded between training epochs, and the Train step says so.
  await page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: 'Train' }).click();
  await expect(page.getByTestId('train-prefetch')).toHaveAttribute('data-finished', '2');
  await expect(page.getByTestId('train-prefetch')).toHaveAttribute('data-folders', '2');
  await expect(page.getByTestId('train-prefetch')).toHaveText('2 of 2 folders embedded while training: the scan finds their embeddings ready');
  // With both in, the verdict's set-level half was decided before the decoder was done: collapse.
  await expect(page.getByTestId('train-early-gate')).toHaveAttribute('data-open', 'true');
  await expect(page.getByTestId('train-early-gate')).toContainText('Collapse found: ');
  await page.screenshot({ path: 'test-results/screens/demo-train.png', fullPage: true });
  await page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: 'Review' }).click();

  // The clusters view groups the collapsed images: one cluster of (nearly) exactly the triggered
  // images. What it maps to is shown by example: the demo adds its clean photos in class folders,
  // and the attacker's target is a fire truck, so the cluster is seen as "truck" and its nearest
  // truck photos are drawn. The decoded mean embedding is still drawn, small and labelled.
  await page.getByRole('button', { name: 'Reveal what the backdoor maps to' }).click();
  const cluster = page.getByTestId('cluster').first();
  await expect(cluster).toBeVisible({ timeout: 120_000 });
  await expect(cluster.getByTestId('cluster-headline')).toHaveAttribute('data-label', 'truck');
  await expect(cluster.getByTestId('cluster-headline')).toContainText('The encoder sees these photos as “truck”');
  const examples = cluster.getByTestId('cluster-example');
  await expect(examples).toHaveCount(5);
  for (const ex of await examples.all()) {
    await expect(ex).toHaveAttribute('data-label', 'truck');
    expect(await ex.getAttribute('data-path')).toMatch(/^clean-reference\/truck\/b\d_\d{4}\.png$/);
    await expect(ex.locator('canvas')).toHaveAttribute('data-drawn', 'true');
  }
  const exampleName = (await examples.first().getAttribute('data-path'))!;
  await expect(cluster.getByTestId('cluster-target')).toHaveAttribute('data-drawn', 'true');
  await expect(cluster.getByText('the cluster’s embedding decoded (contrast matched): a texture, not the target')).toBeVisible();
  const size = Number(/Cluster 1: (\d+) images/.exec((await cluster.textContent())!)![1]);
  // 40 triggered suspect images and the 20 known-poisoned ones share the backdoor's target.
  expect(size).toBeGreaterThanOrEqual(36 + labels.known_poisoned.length);
  expect(size).toBeLessThanOrEqual(44 + labels.known_poisoned.length);
  const members = await cluster.locator('.cluster-members code').allTextContents();
  expect(members.length).toBe(size);
  for (const m of members) expect(truth.get(m.split('/').pop()!), m).toBe(true);
  // A long member list scrolls inside the card; no card is wider than the page, at either width and theme.
  const list = cluster.locator('.cluster-members');
  expect(await list.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);
  for (const width of [1280, 1920]) {
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.setViewportSize({ width, height: 1000 });
      await page.emulateMedia({ colorScheme });
      const overflow = await page.evaluate(() => {
        const page = document.documentElement.clientWidth;
        const cards = [...document.querySelectorAll('.card')];
        const widest = Math.max(...cards.map((c) => Math.ceil(c.getBoundingClientRect().right)));
        // Content wider than its card (visible overflow) shows as the card's scrollWidth.
        const spilling = cards.filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.querySelector('h2, h3')?.textContent ?? c.className);
        return { page, scroll: document.documentElement.scrollWidth, widest, spilling };
      });
      expect(overflow.spilling, `content wider than its card at ${width} px (${colorScheme})`).toEqual([]);
      expect(overflow.scroll, `page scrolls sideways at ${width} px (${colorScheme})`).toBeLessThanOrEqual(overflow.page);
      expect(overflow.widest, `a card is wider than the page at ${width} px (${colorScheme})`).toBeLessThanOrEqual(overflow.page);
      await cluster.scrollIntoViewIfNeeded();
      await page.screenshot({ path: `test-results/screens/demo-clusters-${width}-${colorScheme}.png` });
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });

  // The HTML report carries the revealed cluster: its size, target image and members.
  await page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: 'Report' }).click();
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download HTML' }).click();
  const html = readFileSync(await (await download).path(), 'utf8');
  expect(html).toContain('<h2>Clusters: what the backdoor maps to</h2>');
  expect(html).toContain(`Cluster 1: ${size} images`);
  expect(html).toContain('The encoder sees these photos as “truck”');
  expect(html).toContain('<p class="muted">Nearest “truck” photos</p>');
  expect(html).toMatch(new RegExp(`<img class="px ex" src="data:image/png;base64,[^"]+" alt="${exampleName}"`));
  expect(html.match(/<img class="px ex" /g)!.length).toBeGreaterThanOrEqual(5);
  expect(html).toMatch(/<img class="px" src="data:image\/png;base64,[^"]+" alt="Decoded mean embedding of cluster 1"/);
  // 40 triggered images of 200 collapse: the gate lets the collapse score take its share.
  expect(html).toMatch(/Collapse found: \d+ scanned images sat closer to their nearest neighbours than every clean reference image/);
  expect(html).toContain(members[0]!);
  // How the decoder's training ended: by the convergence rule or the demo's epoch budget.
  expect(html).toMatch(/<dt>Training<\/dt><dd>(converged at epoch \d+|ran its whole budget of \d+ epochs) \(held-back loss [\d.]+\)<\/dd>/);
  // As a reader sees it: the report's clusters section, opened on its own.
  const reportPage = await page.context().newPage();
  await reportPage.setContent(html);
  await reportPage.locator('li.cluster').first().screenshot({ path: 'test-results/screens/demo-report-cluster.png' });
  await reportPage.close();
  // So does the JSON report: members and what the encoder sees them as.
  const jsonDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download JSON' }).click();
  const report = JSON.parse(readFileSync(await (await jsonDownload).path(), 'utf8')) as ScanReport;
  const [first] = report.clusters!;
  expect(first!.members).toHaveLength(size);
  expect(first!.seenAs.labels[0]!.label).toBe('truck');
  expect(first!.seenAs.examples.map((e) => e.label)).toEqual(Array(5).fill('truck'));
  expect(first!.seenAs.examples[0]!.path).toBe(exampleName);
  const training = report.decoder.training!;
  expect(['converged', 'epochs']).toContain(training.stoppedBy);
  expect(training.convergedAtEpoch).toBe(training.stoppedBy === 'converged' ? training.epochs : null);
  expect(training.heldBackLoss).toBeGreaterThan(0);
});
