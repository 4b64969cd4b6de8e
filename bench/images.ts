// Image loading bench: 5,000 generated PNGs (64×48, so every one is cropped and resized; 2% are
// byte-for-byte copies of an image 1,499 earlier) are added through the Images step's folder input
// in Debian's Chromium against the built app (vite preview). Prints images/s decoded and the page's
// JS heap (CDP Performance.getMetrics JSHeapUsedSize): the sampled peak, and the heap after a
// forced GC at 1,000 / 2,500 / 5,000 images (scaled with --count), the growth per extra image
// between the first and last checkpoint, their ratio, and what the finished dataset retains per
// image. The heap must stay bounded: pixels, paths, hashes and entries go to OPFS chunk by chunk,
// File objects are let go once decoded, and what stays per image is the duplicate index only
// (128 bits of SHA-256 and a slot in typed arrays, ~20–40 B). Fails (exit code 1) otherwise.
//
//   npx vite build && <the bench:images command in the report>   [-- --count 5000]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, pattern } from '../src/testing/image-files';
import { HeapProbe, launchChromium, MB, startPreview } from './lib/browser';

const argCount = process.argv.indexOf('--count');
const COUNT = argCount > 0 ? Number(process.argv[argCount + 1]) : 5000;
const CHECKPOINTS = [1000, 2500, 5000].map((c) => Math.round((c * COUNT) / 5000));
const PORT = Number(process.env['BENCH_PORT'] ?? 4183);
/**
 * Between the first and last checkpoint the images grow 5×; the heap may grow by at most this.
 * Per image, only the duplicate index (~20–40 B: 128 bits of SHA-256 and a slot in typed arrays)
 * may stay; paths, hashes, entries and pixels go to OPFS with their chunk.
 */
const RATIO_LIMIT = 1.25;
const PER_IMAGE_LIMIT_B = 100;

/**
 * Every image has its own bytes (the pattern repeats every 256 seeds, so the index is stamped into
 * the first pixel), except that every DUPLICATE_EVERY-th image repeats one DUPLICATE_BACK images
 * earlier, in an older chunk: both the unique-hash index and the duplicate list are exercised.
 */
const DUPLICATE_EVERY = 50;
const DUPLICATE_BACK = 1499; // not a multiple of DUPLICATE_EVERY, so the original is no copy itself
function benchPixels(i: number): Uint8Array {
  const seed = i % DUPLICATE_EVERY === DUPLICATE_EVERY - 1 && i >= DUPLICATE_BACK ? i - DUPLICATE_BACK : i;
  const rgb = pattern(64, 48, seed);
  rgb.set([seed & 0xff, (seed >> 8) & 0xff, (seed >> 16) & 0xff], 0);
  return rgb;
}
let EXPECTED_DUPLICATES = 0;
for (let i = DUPLICATE_BACK; i < COUNT; i++) if (i % DUPLICATE_EVERY === DUPLICATE_EVERY - 1) EXPECTED_DUPLICATES++;

function makeFolder(): { root: string; folder: string } {
  const root = mkdtempSync(join(tmpdir(), 'dede-bench-images-'));
  const folder = join(root, 'bench-suspect');
  for (let d = 0; d < Math.ceil(COUNT / 500); d++) mkdirSync(join(folder, `part-${d}`), { recursive: true });
  for (let i = 0; i < COUNT; i++) {
    writeFileSync(join(folder, `part-${Math.floor(i / 500)}`, `img-${String(i).padStart(5, '0')}.png`), encodePng(64, 48, benchPixels(i), 1));
  }
  return { root, folder };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const { root, folder } = makeFolder();
  console.log(`generated ${COUNT} PNGs (64×48) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const preview = await startPreview(PORT);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${PORT}/`);
    await page.getByRole('navigation', { name: 'Workflow steps' }).getByRole('button', { name: 'Images' }).click();
    const probe = await HeapProbe.attach(page);
    const heap = () => probe.heap();
    const buffers = () => probe.buffers();
    const gcHeap = () => probe.afterGc();
    const baseline = (await gcHeap()).heap;
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    console.log(`Chromium ${browser.version()}, ${cores} cores → ${Math.max(1, Math.min(4, cores - 1))} decode worker(s); heap before loading ${(baseline / MB).toFixed(1)} MB`);

    const started = performance.now();
    await page.getByTestId('images-folder-input').setInputFiles(folder);
    const card = page.getByTestId('dataset');
    let peak = 0;
    let peakBuffers = 0;
    const atCheckpoint: { images: number; seconds: number; heapMB: number; buffersMB: number }[] = [];
    let next = 0;
    for (;;) {
      peak = Math.max(peak, await heap());
      peakBuffers = Math.max(peakBuffers, await buffers());
      const status = await card.getAttribute('data-status').catch(() => null);
      const doneAttr = await page.getByTestId('images-progress').getAttribute('data-done', { timeout: 50 }).catch(() => null);
      const done = status === 'ready' ? COUNT : Number(doneAttr ?? 0);
      if (next < CHECKPOINTS.length && done >= CHECKPOINTS[next]!) {
        while (next + 1 < CHECKPOINTS.length && done >= CHECKPOINTS[next + 1]!) next++;
        const m = await gcHeap();
        atCheckpoint.push({ images: done, seconds: (performance.now() - started) / 1000, heapMB: m.heap / MB, buffersMB: m.buffers / MB });
        if (process.env['BENCH_VERBOSE']) console.log(`  … ${done} images`);
        next++;
      }
      if (status === 'ready' || status === 'failed' || status === 'cancelled') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    const images = Number((await card.getByTestId('count-images').textContent())!.replace(/,/g, ''));
    const status = await card.getAttribute('data-status');
    console.log(`status ${status}: ${images} images in ${seconds.toFixed(1)} s → ${(images / seconds).toFixed(0)} images/s decoded (resized to 32×32, hashed, stored)`);
    console.log(`peak JS heap (JSHeapUsedSize, sampled every ~100 ms): ${(peak / MB).toFixed(1)} MB; peak ArrayBuffer backing stores: ${(peakBuffers / MB).toFixed(1)} MB`);
    for (const c of atCheckpoint) console.log(`  after ${String(c.images).padStart(5)} images (${c.seconds.toFixed(1)} s): JS heap ${c.heapMB.toFixed(2)} MB, ArrayBuffers ${c.buffersMB.toFixed(2)} MB (after GC)`);
    const first = atCheckpoint[0];
    const last = atCheckpoint[atCheckpoint.length - 1];
    if (!first || !last || images !== COUNT) throw new Error('the load did not finish');
    const duplicates = Number((await card.getByTestId('count-duplicates').textContent())!.replace(/,/g, ''));
    if (duplicates !== EXPECTED_DUPLICATES) throw new Error(`expected ${EXPECTED_DUPLICATES} duplicates, found ${duplicates}`);
    const total = (c: { heapMB: number; buffersMB: number }) => c.heapMB + (Number.isFinite(c.buffersMB) ? c.buffersMB : 0);
    const heapRatio = last.heapMB / first.heapMB;
    const ratio = total(last) / total(first);
    const perImageB = ((total(last) - total(first)) * MB) / (last.images - first.images);
    const heapPerImageB = ((last.heapMB - first.heapMB) * MB) / (last.images - first.images);
    // What the finished dataset still costs the page, per image: everything above the heap before
    // loading, fixed costs (the card, a page of thumbnails, the worker pool, code) included.
    const retainedPerImageB = ((last.heapMB * MB - baseline) / COUNT);
    console.log(`${duplicates} duplicates found (${EXPECTED_DUPLICATES} expected)`);
    console.log(`ratio ${last.images}/${first.images} images (${(last.images / first.images).toFixed(1)}× the images): JS heap ${heapRatio.toFixed(2)}×, JS heap + ArrayBuffers ${ratio.toFixed(2)}×`);
    console.log(
      `growth per extra image: JS heap ${heapPerImageB.toFixed(0)} B, with ArrayBuffers ${perImageB.toFixed(0)} B ` +
        `(one stored 32×32 RGB image is 3 KB); retained after the load: ${retainedPerImageB.toFixed(0)} B/image over the heap before it`,
    );
    const bounded = heapPerImageB < PER_IMAGE_LIMIT_B && perImageB < PER_IMAGE_LIMIT_B && ratio < RATIO_LIMIT;
    console.log(`${bounded ? 'bounded' : 'NOT BOUNDED'}: limits ${PER_IMAGE_LIMIT_B} B/extra image and ${RATIO_LIMIT}× from ${first.images} to ${last.images} images`);
    if (!bounded) process.exitCode = 1;
  } finally {
    await browser.close();
    preview.kill();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
