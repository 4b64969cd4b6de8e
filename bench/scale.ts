// Scale drill (Issue 7): suspect folders of 5k, 10k and 20k images of 32×32 and one of 2,000 images
// of 224×224 go through the built app in Debian's Chromium as a user takes them: load (a clean
// reference folder and the suspect folder), import a decoder, calibrate, scan, then export the CSV,
// JSON and HTML reports and the cleaned file list. Each size runs in a fresh browser context (its
// own OPFS and storage). Prints the time of each phase and the page's JS heap (CDP
// Performance.getMetrics JSHeapUsedSize, sampled every 200 ms: the peak, and what stays after a
// forced GC at the end), plus the model worker's GPU buffer count, and the ratio of the 20k run's
// peak heap to the 5k run's (target < 1.5: the heap must not grow with the number of images).
// Exports are checked for completeness (one CSV/JSON row per image, cleaned list = unflagged).
//
// The decoder is trained once in Node by `dede train` (SMALL preset, a few epochs on the clean
// reference: enough to score with; detection quality is bench:detect's job) and imported in the app.
// Images come from the CIFAR-10 photos in ../shared/data (see bench/lib/scale-folders.ts).
//
//   npx vite build && npm run bench:scale [-- --sizes 5000,10000,20000 --large 2000 --encoder FILE --out FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Download, Page } from '@playwright/test';
import type {} from '../src/app/backend/debug-handle';
import { HeapProbe, launchChromium, MB, startPreview } from './lib/browser';
import { cleanFolder, readPhotos, suspectFolder, triggeredCount } from './lib/scale-folders';
import { flagValue } from './lib/args';

interface Args {
  readonly sizes: number[];
  readonly large: number;
  readonly clean: number;
  readonly encoder: string;
  readonly photos: string;
  readonly epochs: number;
  /** Where the JSON result goes (default bench/results/scale-<date>.json). */
  readonly out: string | null;
}

function parseArgs(argv: readonly string[]): Args {
  const value = (name: string): string | undefined => flagValue(argv, name);
  const int = (name: string, fallback: number): number => {
    const v = Number(value(name) ?? fallback);
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number, got ${value(name)}`);
    return v;
  };
  const sizes = (value('sizes') ?? '5000,10000,20000').split(',').map(Number);
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`--sizes must list whole numbers, got ${value('sizes')}`);
  return {
    sizes,
    large: int('large', 2000),
    clean: int('clean', 500),
    encoder: resolve(value('encoder') ?? 'public/demo/encoders/badencoder/model.onnx'),
    photos: resolve(value('photos') ?? '../shared/data/cifar10-train'),
    epochs: int('epochs', 8),
    out: value('out') ?? null,
  };
}

const PORT = Number(process.env['BENCH_PORT'] ?? 4185);
/** Generated folders, the decoder and screenshots; reused by later runs. */
const CACHE = resolve(process.env['SCALE_CACHE'] ?? join(tmpdir(), 'dede-bench-scale'));
const RATIO_TARGET = 1.5;
const SCAN_TIMEOUT_MS = 60 * 60_000;

interface Phase {
  readonly seconds: number;
  /** Peak sampled JSHeapUsedSize during the phase, MB. */
  readonly peakHeapMB: number;
  readonly peakBuffersMB: number;
}

interface RunResult {
  readonly images: number;
  readonly side: number;
  readonly load: Phase;
  readonly calibrate: Phase;
  readonly scan: Phase;
  readonly export: Phase;
  readonly peakHeapMB: number;
  /** After a forced GC once everything is exported: what the finished session keeps. */
  readonly retainedHeapMB: number;
  readonly retainedBuffersMB: number;
  /** Before the encoder was loaded (after GC). */
  readonly startHeapMB: number;
  readonly gpuBuffers: number | null;
  readonly flagged: number;
  readonly triggered: number;
  readonly exports: Record<string, number>;
}

function trainDecoder(args: Args, clean: string): string {
  const out = join(CACHE, `decoder-${args.clean}-${args.epochs}ep.onnx`);
  if (existsSync(out) && statSync(out).mtimeMs > statSync(args.encoder).mtimeMs) return out;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['bin/dede.mjs', 'train', '--encoder', args.encoder, '--images', clean, '--out', out, '--epochs', String(args.epochs), '--minutes', '5'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`dede train failed (exit ${r.status})`);
  console.log(`trained a SMALL decoder on ${args.clean} clean images, ${args.epochs} epochs, in ${((performance.now() - t0) / 1000).toFixed(0)} s (dede train)`);
  return out;
}

function nav(page: Page, step: string) {
  return page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: step });
}

async function phase(probe: HeapProbe, body: () => Promise<void>): Promise<Phase> {
  const stop = probe.sampleWhile(200);
  const t0 = performance.now();
  try {
    await body();
  } catch (err) {
    await stop();
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  const { peakHeap, peakBuffers } = await stop();
  return { seconds, peakHeapMB: peakHeap / MB, peakBuffersMB: peakBuffers / MB };
}

async function download(page: Page, button: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 10 * 60_000 }), page.getByRole('button', { name: button }).click()]);
  return readDownload(file);
}

async function readDownload(file: Download): Promise<string> {
  const path = await file.path();
  return readFileSync(path, 'utf8');
}

async function runOne(args: Args, encoderFiles: string[], decoder: string, clean: string, suspect: string, images: number, side: number): Promise<RunResult> {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error(`  page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${PORT}/?ep=wasm`);
    const probe = await HeapProbe.attach(page);
    const startHeapMB = (await probe.afterGc()).heap / MB;

    await page.getByTestId('encoder-file-input').setInputFiles(encoderFiles);
    await page.getByTestId('encoder-summary').waitFor({ timeout: 120_000 });
    await nav(page, 'Images').click();
    const count = (name: string) => page.locator(`[data-dataset-name="${name}"]`).getByTestId('count-images');
    await page.getByTestId('images-folder-input').setInputFiles(clean);
    await page.locator(`[data-dataset-name="${clean.split('/').pop()}"][data-status="ready"]`).waitFor({ timeout: 120_000 });

    const name = suspect.split('/').pop()!;
    const load = await phase(probe, async () => {
      await page.getByTestId('images-folder-input').setInputFiles(suspect);
      await page.locator(`[data-dataset-name="${name}"][data-status="ready"]`).waitFor({ timeout: SCAN_TIMEOUT_MS });
    });
    const loaded = Number((await count(name).textContent())!.replace(/,/g, ''));
    if (loaded !== images) throw new Error(`${name}: ${loaded} images loaded, expected ${images}`);

    await nav(page, 'Train').click();
    await page.getByTestId('decoder-import').setInputFiles(decoder);
    await page.getByText('Decoder imported.').waitFor({ timeout: 60_000 });

    await nav(page, 'Calibrate').click();
    const calibrate = await phase(probe, async () => {
      await page.getByRole('button', { name: /Score \d+ held-back clean images/ }).click();
      await page.getByTestId('calibration').waitFor({ timeout: 10 * 60_000 });
    });

    await nav(page, 'Scan').click();
    const scan = await phase(probe, async () => {
      await page.getByRole('main').getByRole('button', { name: 'Scan', exact: true }).click();
      await page.locator('[data-testid="scan"][data-status="done"]').waitFor({ timeout: SCAN_TIMEOUT_MS });
    });
    const flagged = Number((await page.getByTestId('scan-flagged').textContent())!.replace(/,/g, ''));
    const gpuBuffers = await page.evaluate(() => window.dedeDebug!.gpuBufferCount());

    await nav(page, 'Report').click();
    const exports: Record<string, number> = {};
    const exported = await phase(probe, async () => {
      const csv = await download(page, 'Download CSV');
      const json = JSON.parse(await download(page, 'Download JSON')) as { images: { flagged: boolean }[] };
      const html = await download(page, 'Download HTML');
      const list = await download(page, 'Download list');
      const csvRows = csv.trimEnd().split('\n').length - 1;
      const listRows = list.trim() === '' ? 0 : list.trimEnd().split('\n').length;
      const reportFlagged = json.images.filter((i) => i.flagged).length;
      Object.assign(exports, { csvBytes: csv.length, jsonBytes: JSON.stringify(json).length, htmlBytes: html.length, listBytes: list.length, csvRows, jsonRows: json.images.length, listRows });
      if (csvRows !== images || json.images.length !== images) throw new Error(`exports incomplete: CSV ${csvRows} rows, JSON ${json.images.length} images, expected ${images}`);
      if (listRows !== images - reportFlagged) throw new Error(`cleaned list has ${listRows} paths, expected ${images - reportFlagged} unflagged`);
      if (!html.includes('</html>')) throw new Error('the HTML report is truncated');
    });
    const retained = await probe.afterGc();
    await page.screenshot({ path: join(CACHE, `report-${images}-${side}px.png`) });
    await context.close();
    const peakHeapMB = Math.max(load.peakHeapMB, calibrate.peakHeapMB, scan.peakHeapMB, exported.peakHeapMB);
    return { images, side, load, calibrate, scan, export: exported, peakHeapMB, retainedHeapMB: retained.heap / MB, retainedBuffersMB: retained.buffers / MB, startHeapMB, gpuBuffers, flagged, triggered: triggeredCount(images), exports };
  } finally {
    await browser.close();
  }
}

const mb = (v: number) => v.toFixed(1).padStart(7);
const sec = (v: number) => v.toFixed(1).padStart(7);

function table(runs: readonly RunResult[]): string {
  const head = 'images   side │   load s   img/s │  calib s │   scan s   img/s │ export s │ peak heap MB (load/cal/scan/export) │ peak MB │ kept MB │ flagged (triggered) │ GPU bufs';
  const lines = runs.map((r) =>
    `${String(r.images).padStart(6)} ${String(r.side).padStart(6)} │ ${sec(r.load.seconds)} ${(r.images / r.load.seconds).toFixed(0).padStart(7)} │ ${sec(r.calibrate.seconds)} │ ${sec(r.scan.seconds)} ${(r.images / r.scan.seconds).toFixed(0).padStart(7)} │ ${sec(r.export.seconds)} │` +
      ` ${mb(r.load.peakHeapMB)} ${mb(r.calibrate.peakHeapMB)} ${mb(r.scan.peakHeapMB)} ${mb(r.export.peakHeapMB)}     │ ${mb(r.peakHeapMB)} │ ${mb(r.retainedHeapMB)} │ ${String(r.flagged).padStart(8)} (${String(r.triggered).padStart(5)})    │ ${r.gpuBuffers ?? 'n/a (WASM)'}`,
  );
  return [head, ...lines].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  mkdirSync(CACHE, { recursive: true });
  const t0 = performance.now();
  const photos = await readPhotos(args.photos);
  const clean = await cleanFolder(CACHE, photos, args.clean);
  const folders: { images: number; side: number; dir: string }[] = [];
  for (const n of args.sizes) folders.push({ images: n, side: 32, dir: await suspectFolder(CACHE, photos, args.clean, n, 32) });
  if (args.large > 0) folders.push({ images: args.large, side: 224, dir: await suspectFolder(CACHE, photos, args.clean, args.large, 224) });
  console.log(`folders ready in ${((performance.now() - t0) / 1000).toFixed(0)} s under ${CACHE} (from ${photos.pixels.length} CIFAR-10 photos in ${args.photos})`);
  const encoderFiles = [args.encoder, join(dirname(args.encoder), 'preprocessor_config.json')];
  const decoder = trainDecoder(args, clean);

  const preview = await startPreview(PORT);
  const runs: RunResult[] = [];
  try {
    for (const f of folders) {
      console.log(`\n== ${f.images} images of ${f.side}×${f.side} (+ ${args.clean} clean reference), load average ${loadavg()[0]!.toFixed(1)}`);
      const r = await runOne(args, encoderFiles, decoder, clean, f.dir, f.images, f.side);
      runs.push(r);
      console.log(table([r]).split('\n')[1]);
    }
  } finally {
    preview.kill();
  }

  const small = runs.filter((r) => r.side === 32).sort((a, b) => a.images - b.images);
  const first = small[0];
  const last = small[small.length - 1];
  const ratio = first && last && last !== first ? { from: first.images, to: last.images, peak: last.peakHeapMB / first.peakHeapMB, retained: last.retainedHeapMB / first.retainedHeapMB } : null;
  console.log(`\n${table(runs)}`);
  console.log('(heap = main-thread JSHeapUsedSize; "kept" = after a forced GC once the exports are done; images are decoded, embedded and scored in workers)');
  if (ratio) {
    const pass = ratio.peak < RATIO_TARGET;
    console.log(`heap ratio ${ratio.to}/${ratio.from} images (${(ratio.to / ratio.from).toFixed(0)}× the images): peak ${ratio.peak.toFixed(2)}×, kept ${ratio.retained.toFixed(2)}× — target < ${RATIO_TARGET}: ${pass ? 'PASS' : 'FAIL'}`);
    if (!pass) process.exitCode = 1;
  }
  const file = args.out ?? `bench/results/scale-${started.toISOString().slice(0, 10)}.json`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ bench: 'npm run bench:scale', args, started: started.toISOString(), seconds: (Date.now() - started.getTime()) / 1000, cpus: cpus().length, loadavgEnd: loadavg(), backend: 'wasm', ratioTarget: RATIO_TARGET, ratio, runs }, null, 1)}\n`,
  );
  console.log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
