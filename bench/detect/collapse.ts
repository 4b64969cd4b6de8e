// The collapse step at 20k images, in a child process so that its peak RSS is the collapse's.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { auroc, calibratedCollapse, mulberry32, type Rows } from '../../src/core/dede';
import { loadLine } from '../lib/format';
import { f, labels, log } from './common';
import { type Args, COLLAPSE_N } from './settings';

export interface CollapseBench {
  readonly n: number;
  readonly reference: number;
  readonly dim: number;
  readonly seconds: number;
  readonly collapsedAuroc: number;
  /** RSS with the inputs built, just before the collapse step. */
  readonly rssBeforeMiB: number;
  /** Peak process RSS during the step (sampled every 2 ms by a worker thread). */
  readonly peakRssMiB: number;
}

export async function collapseChild(n: number, dim: number): Promise<CollapseBench> {
  const M = 300;
  const rng = mulberry32(99);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  // Synthetic: 10 class centres + per-image noise; 20% collapsed onto one target (cosine ≈ 0.99).
  const centres = Array.from({ length: 10 }, () => Float32Array.from({ length: dim }, gauss));
  const target = Float32Array.from({ length: dim }, gauss);
  const poisoned = Math.round(n * 0.2);
  const make = (rows: number, collapsedFrom: number): Float32Array => {
    const out = new Float32Array(rows * dim);
    for (let i = 0; i < rows; i++) {
      const collapsed = i >= collapsedFrom;
      const base = collapsed ? target : (centres[i % 10] as Float32Array);
      const noise = collapsed ? 0.1 : 1.2;
      for (let t = 0; t < dim; t++) out[i * dim + t] = (base[t] as number) + noise * gauss();
    }
    return out;
  };
  const fp = (rows: number): Rows => {
    const out = new Float32Array(rows * 64);
    for (let i = 0; i < out.length; i++) out[i] = gauss();
    return { data: out, dim: 64 };
  };
  const folder = { embeddings: { data: make(n, n - poisoned), dim }, fingerprints: fp(n) };
  const ref = { embeddings: { data: make(M, M), dim }, fingerprints: fp(M) };
  global.gc?.();
  // A worker thread samples the process RSS every 2 ms while the (synchronous) step runs.
  const shared = new Int32Array(new SharedArrayBuffer(8)); // [max RSS KiB, stop]
  const sampler = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const a = new Int32Array(workerData);
     const tick = () => { const kib = Math.round(process.memoryUsage.rss() / 1024); if (kib > Atomics.load(a, 0)) Atomics.store(a, 0, kib); if (Atomics.load(a, 1) === 0) setTimeout(tick, 2); };
     tick(); parentPort.postMessage('started');`,
    { eval: true, workerData: shared.buffer },
  );
  await new Promise((r) => sampler.once('message', r));
  await new Promise((r) => setTimeout(r, 50));
  const rssBefore = process.memoryUsage().rss / 2 ** 20;
  Atomics.store(shared, 0, 0);
  const t0 = performance.now();
  const r = calibratedCollapse(folder, ref);
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 20));
  Atomics.store(shared, 1, 1);
  const peakDuring = Math.max(Atomics.load(shared, 0) / 1024, process.memoryUsage().rss / 2 ** 20);
  await sampler.terminate();
  return {
    n,
    reference: M,
    dim,
    seconds,
    collapsedAuroc: auroc(r.scores, labels(n - poisoned, poisoned)),
    rssBeforeMiB: rssBefore,
    peakRssMiB: peakDuring,
  };
}

/** The fixture encoders' embedding width (what --collapse-only uses). */
export const COLLAPSE_DIM = 192;

export function collapseSection(dim: number): CollapseBench {
  log(`\n== collapse step at ${COLLAPSE_N.toLocaleString('en-US')} images (synthetic embeddings, D = ${dim}, 20% collapsed; + 300 clean reference; fingerprints; child process)`);
  const collapse = runCollapseChild(COLLAPSE_N, dim);
  log(`  calibratedCollapse: ${collapse.seconds.toFixed(1)} s; peak process RSS during the step ${collapse.peakRssMiB.toFixed(0)} MiB (${collapse.rssBeforeMiB.toFixed(0)} MiB with the inputs built just before: +${(collapse.peakRssMiB - collapse.rssBeforeMiB).toFixed(0)} MiB); AUROC of the collapsed 20% ${f(collapse.collapsedAuroc)}`);
  return collapse;
}

export async function collapseOnly(args: Args, started: Date): Promise<void> {
  log(`DeDe detection bench, collapse step only — Node ${process.version}`);
  log(loadLine('at start'));
  const collapse = collapseSection(COLLAPSE_DIM);
  log(loadLine('at end'));
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/detect-collapse-${started.toISOString().slice(0, 10)}.json`;
  writeFileSync(file, `${JSON.stringify({ bench: 'npm run bench:detect -- --collapse-only', args, started: started.toISOString(), node: process.version, cpus: cpus().length, loadavgEnd: loadavg(), collapse }, null, 1)}\n`);
  log(`wrote ${file}`);
}

export function runCollapseChild(n: number, dim: number): CollapseBench {
  const script = process.argv[1] as string;
  const r = spawnSync(process.execPath, ['--expose-gc', script, '--collapse-child', String(n), String(dim)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`collapse child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as CollapseBench;
}
