// Sharded-scan bench (issue 18): a synthetic corpus of 1,000,000 images as embeddings only (no
// pixels, no models) split in 64 shards by SHA-256, as `dede scan --shard` splits a folder.
//  - collapse: one shard's set verdict (scoreFolderSet: collapse score, gate, fused verdict) on its
//    share of the corpus against a clean reference, in a fresh process: time and peak RSS. 1% of
//    the corpus is "triggered" (embeddings near one direction, higher decoder scores), so the gate
//    has something to find. Timed on BENCH_COLLAPSE_SHARDS shards (default 2; 64 for all).
//  - merge: `dede merge` over 64 complete part files holding the corpus's verdict rows (synthetic
//    rows: the merge only reads and checks them), in a fresh process: time and peak RSS, against
//    the largest part's size, to JSON and to HTML (top flagged rows and fixed histogram bins; the
//    synthetic folder has no files, so no thumbnails). Memory bounded by a shard, not the corpus, is
//    what is checked.
//
//   npm run bench:shards   (env: BENCH_IMAGES=1000000 BENCH_SHARDS=64 BENCH_DIM=128 BENCH_COLLAPSE_SHARDS=2)
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32, normals } from '../src/core/dede/rng';
import { scoreFolderSet } from '../src/core/dede/set-scan';
import { mergeCommand } from '../src/cli/commands/merge';
import { partLine, shardOf, PART_FORMAT, PART_VERSION, type PartHeader, type PartKey } from '../src/cli/shard-part';

const IMAGES = Number(process.env['BENCH_IMAGES'] ?? 1_000_000);
const SHARDS = Number(process.env['BENCH_SHARDS'] ?? 64);
const DIM = Number(process.env['BENCH_DIM'] ?? 128);
const COLLAPSE_SHARDS = Number(process.env['BENCH_COLLAPSE_SHARDS'] ?? 2);
const REFERENCE = 1000;
const POISON = 0.01;
const MiB = 1024 * 1024;

/** The synthetic image #i: its "file" SHA-256 and whether it is triggered (1% of the corpus). */
const imageSha = (i: number) => createHash('sha256').update(`image ${i}`).digest('hex');
const triggered = (sha: string) => Number.parseInt(sha.slice(12, 20), 16) / 2 ** 32 < POISON;

/** Unit rows: clean ones random, triggered ones near one shared direction (the backdoor's collapse). */
function embeddings(shas: readonly string[], seed: number): Float32Array {
  const rng = mulberry32(seed);
  const target = normals(mulberry32(7), DIM);
  const data = new Float32Array(shas.length * DIM);
  shas.forEach((sha, r) => {
    const row = normals(rng, DIM);
    if (triggered(sha)) for (let j = 0; j < DIM; j++) row[j] = target[j]! + 0.05 * row[j]!;
    let norm = 0;
    for (let j = 0; j < DIM; j++) norm += row[j]! ** 2;
    for (let j = 0; j < DIM; j++) data[r * DIM + j] = row[j]! / Math.sqrt(norm);
  });
  return data;
}

const decoderScore = (sha: string, rng: () => number) => Math.exp(0.3 * normals(rng, 1)[0]!) * (triggered(sha) ? 3 : 1);

function shardShas(index: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < IMAGES; i++) {
    const sha = imageSha(i);
    if (shardOf(sha, SHARDS) === index) out.push(sha);
  }
  return out;
}

/** Child: one shard's set verdict. */
function collapseChild(index: number): Record<string, unknown> {
  const shas = shardShas(index);
  const rng = mulberry32(index + 1);
  const started = performance.now();
  const set = scoreFolderSet(
    {
      embeddings: { data: embeddings(shas, 100 + index), dim: DIM },
      dedeScores: shas.map((s) => decoderScore(s, rng)),
      cleanRef: { embeddings: { data: embeddings(Array.from({ length: REFERENCE }, (_, i) => `clean ${i}`), 1), dim: DIM }, dedeScores: Array.from({ length: REFERENCE }, () => Math.exp(0.3 * normals(rng, 1)[0]!)) },
    },
    { targetFpr: 0.05, k: 5 },
  );
  const seconds = (performance.now() - started) / 1000;
  const poisoned = shas.filter(triggered).length;
  const caught = set.images.filter((v, i) => v.flagged && triggered(shas[i]!)).length;
  const falsePositives = set.images.filter((v, i) => v.flagged && !triggered(shas[i]!)).length;
  return { shard: index, images: shas.length, poisoned, caught, fpr: falsePositives / (shas.length - poisoned), gate: set.gate, seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

/** Writes the corpus as SHARDS complete part files (verdict rows only). */
function writeParts(dir: string, IMAGES: number, SHARDS: number): string[] {
  const key: PartKey = { folder: '/synthetic', encoderSha256: 'e'.repeat(64), decoderSha256: 'd'.repeat(64), calibrationSha256: 'c'.repeat(64), rounds: 8, aggregate: { kind: 'median' }, targetFpr: 0.05, k: 5, reference: 'calibration' };
  const head = { format: 'dede-scan-report', version: 1, createdAt: new Date().toISOString(), tool: { name: 'bench:shards', version: '0' }, encoder: { name: 'synthetic', sha256: key.encoderSha256 }, decoder: { name: 'synthetic', sha256: key.decoderSha256 }, settings: {}, threshold: 1, calibration: {} } as PartHeader['head'];
  const fds = Array.from({ length: SHARDS }, (_, i) => openSync(join(dir, `part-${i}.jsonl`), 'w'));
  const counts = new Array<number>(SHARDS).fill(0);
  const flagged = new Array<number>(SHARDS).fill(0);
  fds.forEach((fd, i) => writeSync(fd, partLine({ kind: 'header', format: PART_FORMAT, version: PART_VERSION, shard: { index: i, count: SHARDS }, key, head })));
  const rng = mulberry32(3);
  const buffers: string[][] = Array.from({ length: SHARDS }, () => []);
  for (let i = 0; i < IMAGES; i++) {
    const sha = imageSha(i);
    const s = shardOf(sha, SHARDS);
    const score = decoderScore(sha, rng);
    const p = Math.min(1, 1 / score ** 4);
    buffers[s]!.push(partLine({ kind: 'result', sha256: sha, image: { path: `images/${String(i).padStart(7, '0')}.jpg`, score: -Math.log10(p), dedeScore: score * 1000, pValue: p, flagged: p <= 0.05, decoderScore: score, decoderPValue: p, collapseScore: 0.1, collapsePValue: 0.5 } }));
    counts[s]!++;
    if (p <= 0.05) flagged[s]!++;
    if (buffers[s]!.length >= 1000) writeSync(fds[s]!, buffers[s]!.splice(0).join(''));
  }
  fds.forEach((fd, i) => {
    writeSync(fd, buffers[i]!.join(''));
    writeSync(fd, partLine({ kind: 'verdict', scanned: counts[i]!, flagged: flagged[i]!, unreadable: 0, verdict: { kind: 'fused', gate: null } }));
    closeSync(fd);
  });
  return fds.map((_, i) => join(dir, `part-${i}.jsonl`));
}

function child(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = fork(fileURLToPath(import.meta.url), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    p.once('message', (m) => resolve(m as Record<string, unknown>));
    p.once('exit', (code) => (code ? reject(new Error(`bench child ${args.join(' ')} exited with ${code}`)) : undefined));
  });
}

async function run(): Promise<void> {
  const [mode, arg, out] = process.argv.slice(2);
  if (mode === 'collapse') {
    process.send!(collapseChild(Number(arg)));
    return;
  }
  if (mode === 'merge') {
    const parts = Array.from({ length: Number(process.argv[5]) }, (_, i) => join(arg!, `part-${i}.jsonl`));
    const started = performance.now();
    await mergeCommand([...parts, '--out', out!]);
    process.send!({ seconds: (performance.now() - started) / 1000, peakRssMiB: process.resourceUsage().maxRSS / 1024 });
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'dede-bench-shards-'));
  try {
    console.log(`bench:shards: ${IMAGES.toLocaleString('en')} synthetic images (embeddings of size ${DIM}, ${POISON * 100}% triggered) in ${SHARDS} shards; reference ${REFERENCE} clean embeddings`);
    let started = performance.now();
    // The corpus, and a control a quarter its size in a quarter of the shards (parts of the same
    // size): the merge's peak memory must follow the part, not the corpus (ratio ≈ 1).
    const peaks: number[] = [];
    const htmlPeaks: number[] = [];
    for (const [images, shards] of [[IMAGES, SHARDS], [Math.round(IMAGES / 4), Math.max(1, Math.round(SHARDS / 4))]] as const) {
      const sub = join(dir, `${images}-${shards}`);
      mkdirSync(sub);
      started = performance.now();
      const parts = writeParts(sub, images, shards);
      const sizes = parts.map((p) => statSync(p).size);
      console.log(`${images.toLocaleString('en')} images in ${shards} parts: ${(sizes.reduce((a, b) => a + b, 0) / MiB).toFixed(0)} MiB in all, largest ${(Math.max(...sizes) / MiB).toFixed(1)} MiB (written in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
      const merged = await child(['merge', sub, join(sub, 'report.json'), String(shards)]);
      peaks.push(merged['peakRssMiB'] as number);
      console.log(`  merge: ${(merged['seconds'] as number).toFixed(1)} s, peak RSS ${(merged['peakRssMiB'] as number).toFixed(0)} MiB; report ${(statSync(join(sub, 'report.json')).size / MiB).toFixed(0)} MiB`);
      // The HTML report keeps the top flagged rows and fixed histogram bins, not the images.
      const html = await child(['merge', sub, join(sub, 'report.html'), String(shards)]);
      htmlPeaks.push(html['peakRssMiB'] as number);
      console.log(`  merge to HTML: ${(html['seconds'] as number).toFixed(1)} s, peak RSS ${(html['peakRssMiB'] as number).toFixed(0)} MiB; report ${(statSync(join(sub, 'report.html')).size / 1024).toFixed(0)} KiB`);
      rmSync(sub, { recursive: true, force: true });
    }
    console.log(`merge peak RSS, whole corpus / quarter corpus at the same part size: ${(peaks[0]! / peaks[1]!).toFixed(2)} (target < 1.25: bounded by a shard)`);
    console.log(`HTML merge peak RSS, whole corpus / quarter corpus: ${(htmlPeaks[0]! / htmlPeaks[1]!).toFixed(2)} (target < 1.25)`);
    for (let i = 0; i < Math.min(COLLAPSE_SHARDS, SHARDS); i++) {
      started = performance.now();
      const r = await child(['collapse', String(i)]);
      const gate = r['gate'] as { open: boolean; floorHits: number; needed: number };
      console.log(`collapse shard ${i}/${SHARDS}: ${String(r['images'])} images (${String(r['poisoned'])} triggered, ${String(r['caught'])} flagged; clean FPR ${((r['fpr'] as number) * 100).toFixed(2)}%), gate ${gate.open ? 'open' : 'shut'} (${gate.floorHits} hits, ${gate.needed} needed), ${(r['seconds'] as number).toFixed(1)} s, peak RSS ${(r['peakRssMiB'] as number).toFixed(0)} MiB`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await run();
