// npm run bench:detect [-- --epochs 150 | --minutes 4] [--mask 0.9] [--blind 0] [--reuse-decoders] [--quick] [--parity] [--no-wasm] [--wait MINUTES] [--collapse-only] [--preset small|full] [--only control|backdoor]
// End-to-end detection benchmark on the fixture encoders (scripts/fixtures/splits.json): the SMALL
// decoder trained on decoder_train_clean with the backdoored encoder and with the clean-encoder
// control; per-image AUROC (robust median score and the paper's dedeScore) on test_clean vs
// test_triggered (the manifest's trigger stamped on uint8 pixels before normalisation);
// calibration at 5% target FPR on calibration_clean; the fused set verdict (scoreFolderSet) on
// folders with 1%, 5% and 20% poison; target reveal on the 20% folder; scan throughput with
// onnxruntime-node and onnxruntime-web's WASM backend; the collapse step at 20k images.
// --collapse-only runs just the collapse step at 20k (D = 192, the fixture encoders' width) in seconds.
// --parity also trains the same config with the PyTorch reference (scripts/reference/dede_torch.py
// --train) on the same data, batch order and masks and compares losses and AUROCs.
// Every number printed is measured in this run; the summary goes to bench/results/detect-<date>.json.
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import sharp from 'sharp';
import {
  auroc,
  batchIndices,
  calibrate,
  calibratedCollapse,
  confusionAt,
  decodeEmbeddings,
  DEFAULT_TRAINING,
  exportDecoder,
  applyContrastMap,
  fitContrastMap,
  type ContrastMap,
  importDecoder,
  trainingInfoFrom,
  gatherRows,
  initDecoderWeights,
  meanPixelError,
  mulberry32,
  numPatches,
  pixelFingerprints,
  presetConfig,
  realisedFpr,
  revealTargets,
  Scorer,
  scoreFolderSet,
  tprAtFpr,
  SMALL_DECODER,
  FULL_DECODER,
  trainDecoder,
  trainingBlindRows,
  trainingKeepIndices,
  visibleCount,
  type DecoderConfig,
  type DecoderWeights,
  type Rows,
  type TrainingData,
  type TrainingPlan,
  type TrainingResult,
} from '../src/core/dede';
import { EncoderRunner } from '../src/core/dede/encoder-runner';
import { normalizeRgb, type Preprocessing } from '../src/core/images/preprocess';
import { createRuntime, type Runtime } from '../src/core/runtime/session';
import { loadCliEncoder, type CliEncoder } from '../src/cli/encoder';
import { decodeRgb } from '../src/cli/node-images';
import { exactResizePlan } from '../src/core/images/resize-plan';
import { denormalizeToRgb } from '../src/core/report/image-maps';
import { concatArrays } from '../src/core/concat';

// ---- settings -----------------------------------------------------------------------------------

const SPLITS_PATH = 'scripts/fixtures/splits.json';
const DATA_DIR = process.env.DEDE_CIFAR_DIR ?? resolve('..', 'shared', 'data', 'cifar10-train');
// The control first: a backdoored encoder still being produced gets its training time to appear (--wait).
const ENCODERS = [
  { name: 'control', path: 'public/demo/encoders/clean/model.onnx' },
  { name: 'backdoor', path: 'public/demo/encoders/badencoder/model.onnx' },
] as const;
type EncoderName = (typeof ENCODERS)[number]['name'];
const THREADS = 2;
const BATCH = DEFAULT_TRAINING.batchSize; // 64
const SEED = 0;
const TARGET_FPR = 0.05;
/** The fused verdict's operating point for the issue's target (TPR ≥ 97% at a realised FPR ≤ 3%): α = 3%. */
const STRICT_FPR = 0.03;
/**
 * A target FPR below the issue's 3% bound: conformal calibration holds the FPR to α in expectation,
 * so a realised FPR ≤ 3% on one clean draw is likely only with some margin (α = 2%).
 */
const MARGIN_FPR = 0.02;
const POISON_RATES = [0.01, 0.05, 0.2] as const;
/** Folders of the clean photos plus one triggered image (FolderMetrics.rate 0 stands for them). */
const SINGLE_REPS = 40;
const MAX_REPS = 10;
const RANDOM_CLEAN = 100;
/** Duplicates salted into a clean folder: exact copies and near copies (JPEG re-save, down-and-up resize). */
const SALT = { exact: 40, jpeg: 40, resized: 40 } as const;
const COLLAPSE_N = 20_000;
const CACHE = 'node_modules/.cache/dede-bench';
const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = 'scripts/reference/dede_torch.py';
const TARGETS = {
  robustAuroc: 0.8,
  robustOverControl: 0.2,
  fusedAuroc: 0.99,
  fusedTpr: 0.97,
  fusedFpr: 0.03,
  controlFused: 0.7,
  parityLoss: 0.05,
  parityAuroc: 0.03,
};

/** A training budget: a fixed epoch count (the default: the same decoder whatever the machine's load) or minutes. */
/** The training settings this bench varies (the rest is DEFAULT_TRAINING). */
type Recipe = Pick<TrainingPlan, 'maskRatio' | 'blindShare'>;
const recipeText = (r: Recipe): string => `mask ${r.maskRatio}, blind share ${r.blindShare}`;
/**
 * Suffix naming a recipe: for result files, what differs from the default; for decoder cache keys
 * (`absolute`), the mask always and a blind share other than 0, whatever the default.
 */
const recipeSuffix = (r: Recipe, absolute = false): string => {
  const base = absolute ? { maskRatio: NaN, blindShare: 0 } : DEFAULT_TRAINING;
  return `${r.maskRatio !== base.maskRatio ? `-mask${r.maskRatio}` : ''}${r.blindShare !== base.blindShare ? `-blind${r.blindShare}` : ''}`;
};
type Budget = { readonly epochs: number; readonly minutes: null } | { readonly epochs: null; readonly minutes: number };
const budgetText = (b: Budget): string => (b.epochs !== null ? `${b.epochs} epochs` : `${b.minutes} min`);

interface Args {
  readonly budget: Budget;
  /** How the decoders are trained: mask ratio (DESIGN: 0.9; scoring stays at 0.99) and blind share. */
  readonly recipe: Recipe;
  /** Reuse a decoder this bench trained before with the same encoder, config, budget and mask (for iterating on scoring). */
  readonly reuse: boolean;
  readonly quick: boolean;
  readonly parity: boolean;
  readonly wasm: boolean;
  /** Minutes to wait for a missing encoder (polled every minute). */
  readonly wait: number;
  /** Only the collapse step at 20k (seconds, not the minutes of training). */
  readonly collapseOnly: boolean;
  /** Decoder preset (DESIGN: SMALL is the laptop default; FULL is the paper's). */
  readonly preset: 'small' | 'full';
  /** Only this encoder (default both). */
  readonly only: EncoderName | null;
}

function parseArgs(argv: readonly string[]): Args {
  let minutes: number | null = null;
  let epochs: number | null = null;
  let mask = DEFAULT_TRAINING.maskRatio;
  let blind = DEFAULT_TRAINING.blindShare;
  let reuse = false;
  let quick = false;
  let parity = false;
  let wasm = true;
  let wait = 0;
  let collapseOnly = false;
  let preset: Args['preset'] = 'small';
  let only: EncoderName | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--collapse-only') collapseOnly = true;
    else if (a === '--preset') {
      const v = argv[++i];
      if (v !== 'small' && v !== 'full') throw new Error(`--preset needs small or full, got ${v}`);
      preset = v;
    } else if (a === '--only') {
      const v = argv[++i];
      const e = ENCODERS.find((x) => x.name === v);
      if (!e) throw new Error(`--only needs one of ${ENCODERS.map((x) => x.name).join(', ')}, got ${v}`);
      only = e.name;
    }
    else if (a === '--parity') parity = true;
    else if (a === '--no-wasm') wasm = false;
    else if (a === '--reuse-decoders') reuse = true;
    else if (a === '--wait') {
      wait = Number(argv[++i]);
      if (!(wait >= 0)) throw new Error(`--wait needs a number of minutes, got ${argv[i]}`);
    } else if (a === '--minutes') {
      minutes = Number(argv[++i]);
      if (!(minutes > 0)) throw new Error(`--minutes needs a positive number, got ${argv[i]}`);
    } else if (a === '--mask') {
      mask = Number(argv[++i]);
      if (!(mask > 0 && mask < 1)) throw new Error(`--mask needs a ratio in (0, 1), got ${argv[i]}`);
    } else if (a === '--blind') {
      blind = Number(argv[++i]);
      if (!(blind >= 0 && blind <= 1)) throw new Error(`--blind needs a share in [0, 1], got ${argv[i]}`);
    } else if (a === '--epochs') {
      epochs = Number(argv[++i]);
      if (!(Number.isInteger(epochs) && epochs > 0)) throw new Error(`--epochs needs a positive integer, got ${argv[i]}`);
    } else throw new Error(`unknown argument ${a}; usage: npm run bench:detect [-- --epochs 150 | --minutes 4] [--mask 0.9] [--blind 0] [--reuse-decoders] [--quick] [--parity] [--no-wasm] [--wait MINUTES] [--collapse-only] [--preset small|full] [--only control|backdoor]`);
  }
  if (minutes !== null && epochs !== null) throw new Error('give --epochs or --minutes, not both');
  if (reuse && parity) throw new Error('--parity replays the training itself; it cannot reuse a decoder');
  if (reuse && minutes !== null) throw new Error('--reuse-decoders needs an epoch budget (a time budget is not reproducible)');
  const budget: Budget = minutes !== null ? { epochs: null, minutes } : { epochs: epochs ?? (quick ? 20 : 150), minutes: null };
  return { budget, recipe: { maskRatio: mask, blindShare: blind }, reuse, quick, parity, wasm, wait, collapseOnly, preset, only };
}

// ---- small helpers ------------------------------------------------------------------------------

const f = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
const pct = (x: number | null | undefined, d = 1): string => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(d)}%`);
const log = (s: string): void => console.log(s);
const ok = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');

/** The runtime seam's CPU runtime, 2 intra-op threads and no spin-waiting (shared cores; see bench/train.ts). */
function nativeRuntime(): Runtime {
  return createRuntime(ortNode, 'cpu', { intraOpThreads: THREADS, allowSpinning: false });
}

function concat(...parts: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(Array.from(p), o);
    o += p.length;
  }
  return out;
}

function labels(neg: number, pos: number): boolean[] {
  return [...Array<boolean>(neg).fill(false), ...Array<boolean>(pos).fill(true)];
}

function seededPermutation(n: number, seed: number): number[] {
  const rng = mulberry32(seed);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j] as number, a[i] as number];
  }
  return a;
}

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return s / a.length;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function loadLine(when: string): string {
  const load = loadavg()[0] ?? 0;
  return `load average ${when}: ${f(load, 2)} on ${cpus().length} CPUs${load > cpus().length - 0.5 ? ' (busy machine: times are lower bounds)' : ''}`;
}

// ---- data ---------------------------------------------------------------------------------------

interface Trigger {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
  readonly value_rgb: readonly [number, number, number];
  readonly image_size: readonly [number, number];
}

interface Splits {
  readonly reference_image: string;
  readonly trigger: Trigger;
  readonly sets: Readonly<Record<string, readonly string[]>>;
}

/** Interleaved RGB uint8 [n, 32, 32, 3]. */
interface RgbSet {
  readonly files: readonly string[];
  readonly rgb: Uint8Array;
}

const SIDE = 32;
const PIXELS = SIDE * SIDE * 3;

async function loadSet(files: readonly string[]): Promise<RgbSet> {
  const rgb = new Uint8Array(files.length * PIXELS);
  // The bench photos are SIDE px already; the plan only guards against a stray size.
  const plan = exactResizePlan({ height: SIDE, width: SIDE }, 'lanczos');
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      rgb.set(await decodeRgb(join(DATA_DIR, files[i] as string), plan), i * PIXELS);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { files, rgb };
}

/** The manifest's trigger stamped on a copy of the uint8 pixels (before any normalisation). */
function stampTrigger(set: RgbSet, t: Trigger): RgbSet {
  if (t.image_size[0] !== SIDE || t.image_size[1] !== SIDE) throw new Error(`trigger is for ${t.image_size.join('×')} images, not ${SIDE}×${SIDE}`);
  const rgb = set.rgb.slice();
  const n = set.files.length;
  for (let i = 0; i < n; i++)
    for (let y = t.top; y < t.top + t.height; y++)
      for (let x = t.left; x < t.left + t.width; x++)
        for (let c = 0; c < 3; c++) rgb[i * PIXELS + (y * SIDE + x) * 3 + c] = t.value_rgb[c] as number;
  return { files: set.files, rgb };
}

function normalise(set: RgbSet, p: Preprocessing): Float32Array {
  if (p.width !== SIDE || p.height !== SIDE) throw new Error(`the encoder expects ${p.width}×${p.height} input; this bench is for ${SIDE}×${SIDE} CIFAR-10 encoders`);
  const n = set.files.length;
  const out = new Float32Array(n * PIXELS);
  for (let i = 0; i < n; i++) normalizeRgb(set.rgb.subarray(i * PIXELS, (i + 1) * PIXELS), p, out.subarray(i * PIXELS, (i + 1) * PIXELS));
  return out;
}

function fingerprints(set: RgbSet): Rows {
  return pixelFingerprints(set.rgb, { channels: 3, height: SIDE, width: SIDE }, { layout: 'hwc' });
}

interface Data {
  readonly splits: Splits;
  readonly train: RgbSet;
  readonly cal: RgbSet;
  readonly testClean: RgbSet;
  readonly testTrig: RgbSet;
  readonly randomClean: RgbSet;
  readonly reference: RgbSet;
  /** Duplicates of test_clean images (exact, JPEG q70 re-saved, resized 24→32), for the salted folder. */
  readonly salted: RgbSet;
}

/** A deterministic set of duplicates of `set`'s images: what a real folder holds when photos are re-saved. */
async function saltDuplicates(set: RgbSet): Promise<RgbSet> {
  const n = SALT.exact + SALT.jpeg + SALT.resized;
  const pick = seededPermutation(set.files.length, 777).slice(0, n);
  const raw = { raw: { width: SIDE, height: SIDE, channels: 3 as const } };
  const rgb = new Uint8Array(n * PIXELS);
  const files: string[] = [];
  for (let j = 0; j < n; j++) {
    const i = pick[j] as number;
    const src = Buffer.from(set.rgb.subarray(i * PIXELS, (i + 1) * PIXELS));
    let out: Buffer = src;
    let kind = 'exact';
    if (j >= SALT.exact + SALT.jpeg) {
      kind = 'resized';
      const small = await sharp(src, raw).resize(24, 24).raw().toBuffer();
      out = await sharp(small, { raw: { width: 24, height: 24, channels: 3 } }).resize(SIDE, SIDE).raw().toBuffer();
    } else if (j >= SALT.exact) {
      kind = 'jpeg';
      out = await sharp(await sharp(src, raw).jpeg({ quality: 70 }).toBuffer()).removeAlpha().raw().toBuffer();
    }
    rgb.set(out, j * PIXELS);
    files.push(`${kind}:${set.files[i] as string}`);
  }
  return { files, rgb };
}

async function loadData(): Promise<Data> {
  const splits = JSON.parse(readFileSync(SPLITS_PATH, 'utf8')) as Splits;
  const set = (name: string): readonly string[] => {
    const s = splits.sets[name];
    if (!s) throw new Error(`${SPLITS_PATH} has no set ${name}`);
    return s;
  };
  const pool = set('demo_clean_reference');
  const randomFiles = seededPermutation(pool.length, 20250602).slice(0, RANDOM_CLEAN).map((i) => pool[i] as string);
  const [train, cal, testClean, testTrigPhotos, randomClean, reference] = await Promise.all([
    loadSet(set('decoder_train_clean')),
    loadSet(set('calibration_clean')),
    loadSet(set('test_clean')),
    loadSet(set('test_triggered')),
    loadSet(randomFiles),
    loadSet([splits.reference_image]),
  ]);
  return { splits, train, cal, testClean, testTrig: stampTrigger(testTrigPhotos, splits.trigger), randomClean, reference, salted: await saltDuplicates(testClean) };
}

// ---- per-encoder run ----------------------------------------------------------------------------

interface Normalised {
  readonly train: Float32Array;
  readonly cal: Float32Array;
  readonly testClean: Float32Array;
  readonly testTrig: Float32Array;
  readonly randomClean: Float32Array;
  readonly reference: Float32Array;
  readonly salted: Float32Array;
}

interface Embedded {
  readonly dim: number;
  readonly train: Float32Array;
  readonly cal: Float32Array;
  readonly testClean: Float32Array;
  readonly testTrig: Float32Array;
  /** [1, D] the attacker's reference image. */
  readonly reference: Float32Array;
  readonly salted: Float32Array;
}

interface SetScores {
  readonly score: Float64Array;
  readonly dedeScore: Float64Array;
  /** Per image, the masked patches' errors (for the aggregate diagnostics). */
  readonly patchErrors: readonly Float32Array[];
}

/** Candidate per-image aggregates of the patch errors, reported side by side (diagnostics, not targets). */
const AGGREGATE_DIAGNOSTICS: readonly { readonly name: string; readonly of: (e: Float64Array) => number }[] = [
  { name: 'mean', of: (e) => e.reduce((a, x) => a + x, 0) / e.length },
  { name: 'trimmed mean 10%', of: (e) => sortedMean(e, 0.1, 0.1) },
  { name: 'trimmed mean 25%', of: (e) => sortedMean(e, 0.25, 0.25) },
  { name: 'median', of: (e) => quantileOf(e, 0.5) },
  { name: 'quantile 0.35', of: (e) => quantileOf(e, 0.35) },
  { name: 'quantile 0.2', of: (e) => quantileOf(e, 0.2) },
  { name: 'lower-half mean', of: (e) => sortedMean(e, 0, 0.5) },
];

function sortedMean(e: Float64Array, low: number, high: number): number {
  const s = Float64Array.from(e).sort();
  const a = Math.floor(low * s.length);
  const b = s.length - Math.floor(high * s.length);
  let t = 0;
  for (let i = a; i < b; i++) t += s[i] as number;
  return t / Math.max(1, b - a);
}

function quantileOf(e: Float64Array, q: number): number {
  const s = Float64Array.from(e).sort();
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

function aggregateAurocs(clean: SetScores, trig: SetScores): Record<string, number> {
  const lab = labels(clean.patchErrors.length, trig.patchErrors.length);
  const finite = (e: Float32Array) => Float64Array.from(e).filter((x) => Number.isFinite(x));
  return Object.fromEntries(
    AGGREGATE_DIAGNOSTICS.map((a) => [a.name, auroc([...clean.patchErrors, ...trig.patchErrors].map((e) => a.of(finite(e))), lab)]),
  );
}

interface FolderMetrics {
  readonly rate: number;
  readonly poisoned: number;
  readonly clean: number;
  readonly reps: number;
  /** Mean over the reps' folders, and the worst folder. */
  readonly fusedAuroc: number;
  readonly fusedAurocMin: number;
  /** Pooled over the reps: Σtp/Σpositives, Σfp/Σnegatives. */
  readonly fusedTpr: number;
  readonly fusedFpr: number;
  readonly decoderAuroc: number;
  readonly decoderTpr: number;
  readonly decoderFpr: number;
  readonly collapseAuroc: number;
  /** The same folders flagged at target FPR STRICT_FPR (fused verdict and decoder score alone). */
  readonly strict: { readonly alpha: number; readonly fusedTpr: number; readonly fusedFpr: number; readonly decoderTpr: number; readonly decoderFpr: number };
  /**
   * The fused score's ROC at a realised FPR ≤ STRICT_FPR: per folder, the best threshold whose
   * realised FPR is within it (a ranking property, no calibration); mean TPR and FPR over folders.
   */
  readonly roc: { readonly maxFpr: number; readonly fusedTpr: number; readonly fusedFpr: number };
  /** The fused verdict calibrated at MARGIN_FPR. */
  readonly margin: { readonly alpha: number; readonly fusedTpr: number; readonly fusedFpr: number };
  /** Share of the folders whose collapse gate opened (the gate does not depend on α). */
  readonly gateOpen: number;
}

interface SaltedMetrics {
  readonly images: number;
  readonly duplicates: typeof SALT;
  /** Realised FPR of the fused verdict at TARGET_FPR and STRICT_FPR, salted and (for reference) unsalted. */
  readonly fpr: number;
  readonly strictFpr: number;
  readonly unsaltedFpr: number;
  readonly unsaltedStrictFpr: number;
  /**
   * The same at TARGET_FPR, averaged over CAL_DRAWS random draws of CAL_DRAW_SIZE calibration images
   * (for both components): conformal calibration holds the FPR to α on average over calibration
   * sets, and one draw of 300 moves the realised FPR by about a point either way.
   */
  readonly pooled: { readonly draws: number; readonly referenceImages: number; readonly fpr: number; readonly unsaltedFpr: number };
}

const CAL_DRAWS = 20;
const TIE_SLACK = 0.002;
const CAL_DRAW_SIZE = 200;

function saltedMetrics(x: FolderInputs, saltedEmb: Float32Array, saltedFp: Rows, saltedScores: SetScores): SaltedMetrics {
  const d = x.emb.dim;
  const cleanRef = { embeddings: { data: x.emb.cal, dim: d }, fingerprints: x.fpCal, dedeScores: x.cal.score };
  const salted = {
    embeddings: { data: concatF32(x.emb.testClean, saltedEmb), dim: d },
    fingerprints: { data: concatF32(x.fpClean.data, saltedFp.data), dim: x.fpClean.dim },
    dedeScores: concat(x.clean.score, saltedScores.score),
    cleanRef,
  };
  const plain = { embeddings: { data: x.emb.testClean, dim: d }, fingerprints: x.fpClean, dedeScores: x.clean.score, cleanRef };
  const rate = (input: typeof plain, alpha: number) => {
    const v = scoreFolderSet(input, { targetFpr: alpha });
    return v.images.filter((i) => i.flagged).length / v.images.length;
  };
  const nCal = x.cal.score.length;
  let pooledSalted = 0;
  let pooledPlain = 0;
  for (let r = 0; r < CAL_DRAWS; r++) {
    const pick = seededPermutation(nCal, 9000 + r).slice(0, CAL_DRAW_SIZE);
    const ref = { embeddings: { data: gatherRows(x.emb.cal, d, pick), dim: d }, fingerprints: { data: gatherRows(x.fpCal.data, x.fpCal.dim, pick), dim: x.fpCal.dim }, dedeScores: Float64Array.from(pick, (i) => x.cal.score[i] as number) };
    pooledSalted += rate({ ...salted, cleanRef: ref }, TARGET_FPR) / CAL_DRAWS;
    pooledPlain += rate({ ...plain, cleanRef: ref }, TARGET_FPR) / CAL_DRAWS;
  }
  return {
    images: salted.dedeScores.length,
    duplicates: SALT,
    fpr: rate(salted, TARGET_FPR),
    strictFpr: rate(salted, STRICT_FPR),
    unsaltedFpr: rate(plain, TARGET_FPR),
    unsaltedStrictFpr: rate(plain, STRICT_FPR),
    pooled: { draws: CAL_DRAWS, referenceImages: CAL_DRAW_SIZE, fpr: pooledSalted, unsaltedFpr: pooledPlain },
  };
}

interface RevealMetrics {
  readonly flagged: number;
  readonly clusters: number;
  readonly members: number;
  readonly membersTriggered: number;
  readonly cohesion: number;
  readonly mseReference: number;
  readonly mseRandomMin: number;
  readonly mseRandomMedian: number;
  readonly randomCloser: number;
  readonly closerThanAll: boolean;
  readonly peak: { readonly y: number; readonly x: number; readonly value: number } | null;
  readonly peakInPatch: boolean | null;
  /** Whether the target's contrast was restored with a map fitted on the calibration images. */
  readonly contrastRestored: boolean;
  /**
   * Diagnostics (not targets): the same comparison for the decoded embedding of the reference image
   * itself (the decoder's ceiling, contrast restored), for the cluster target without contrast
   * restoration, and with a map fitted on 64 clean images (what the app's reveal uses).
   */
  readonly diagnostics?: Record<'referenceEmbedding' | 'rawTarget' | 'contrast64', { readonly mseReference: number; readonly mseRandomMin: number; readonly randomCloser: number; readonly norm: number }>;
  /**
   * The decoder's ceiling on this test: the share of clean test photos whose own embedding decodes
   * (contrast restored) closer to the photo than to every one of the random clean images.
   */
  readonly cleanIdentified?: { readonly images: number; readonly share: number; readonly medianCloser: number };
}

interface EncoderResult {
  readonly name: EncoderName;
  readonly path: string;
  readonly sha256: string;
  readonly modified: string;
  readonly embedDim: number;
  readonly train: { readonly seconds: number; readonly steps: number; readonly epochs: number; readonly finalLoss: number; readonly lastEpochLoss: number; readonly stoppedBy: string };
  readonly auroc: { readonly score: number; readonly dedeScore: number };
  /** AUROC of other aggregates of the same patch errors (diagnostics for choosing the robust score). */
  readonly aggregates: Record<string, number>;
  readonly calibration: Record<'score' | 'dedeScore', { readonly threshold: number; readonly tpr: number; readonly fpr: number; readonly targetFpr: number }>;
  readonly folders: FolderMetrics[];
  /** test_clean salted with duplicates: the fused verdict's realised FPR (all images clean). */
  readonly salted: SaltedMetrics;
  readonly reveal: RevealMetrics | null;
}

async function embedAll(runner: EncoderRunner, norm: Normalised): Promise<Embedded> {
  const e = async (x: Float32Array) => runner.embed(x, x.length / PIXELS);
  const train = await e(norm.train);
  return { dim: train.dim, train: train.data, cal: (await e(norm.cal)).data, testClean: (await e(norm.testClean)).data, testTrig: (await e(norm.testTrig)).data, reference: (await e(norm.reference)).data, salted: (await e(norm.salted)).data };
}

async function scoreSet(scorer: Scorer, images: Float32Array, embeddings: Float32Array): Promise<SetScores> {
  const r = await scorer.scoreBatch(images, embeddings);
  return { score: Float64Array.from(r, (x) => x.score), dedeScore: Float64Array.from(r, (x) => x.dedeScore), patchErrors: r.map((x) => x.patchErrors) };
}

function trainingData(images: Float32Array, embeddings: Float32Array, dim: number): TrainingData {
  return {
    count: images.length / PIXELS,
    batch: async (indices) => ({ images: gatherRows(images, PIXELS, indices), embeddings: gatherRows(embeddings, dim, indices) }),
  };
}

async function train(rt: Runtime, cfg: DecoderConfig, images: Float32Array, embeddings: Float32Array, budget: Budget, recipe: Recipe, label: string): Promise<TrainingResult> {
  let lastPrint = 0;
  return trainDecoder(
    rt,
    trainingData(images, embeddings, cfg.embedDim),
    { ...DEFAULT_TRAINING, cfg, ...recipe, epochs: budget.epochs, minutes: budget.minutes, seed: SEED, readLossEvery: 1, checkpointEvery: 0 },
    initDecoderWeights(cfg, SEED),
    {
      onProgress: (p) => {
        if (p.elapsedSeconds - lastPrint < 30) return;
        lastPrint = p.elapsedSeconds;
        log(`  [${label}] train ${p.elapsedSeconds.toFixed(0)} s: step ${p.step}, epoch ${p.epoch.toFixed(1)}, loss ${f(p.loss, 4)}, ${p.imagesPerSecond.toFixed(0)} img/s`);
      },
    },
  );
}

/** What the rest of the bench reads of a training run (a reused decoder has no optimizer state). */
type TrainedDecoder = Omit<TrainingResult, 'state'>;

/**
 * Trains, or with `reuse` loads the decoder saved by an earlier run with the same encoder, config,
 * budget and mask (decoder-file format, strict import) plus its loss history. Always saves.
 */
async function trainOrReuse(rt: Runtime, encoderSha: string, cfg: DecoderConfig, norm: Normalised, emb: Embedded, budget: Budget, recipe: Recipe, reuse: boolean, label: string): Promise<TrainedDecoder & { readonly reused: boolean; readonly full: TrainingResult | null }> {
  const preset = cfg.encDepth === FULL_DECODER.encDepth && cfg.decDim === FULL_DECODER.decDim ? '-full' : '';
  const key = `${encoderSha.slice(0, 16)}${preset}-${budgetText(budget).replace(/ /g, '')}${recipeSuffix(recipe, true)}-seed${SEED}`;
  const dir = join(CACHE, 'decoders');
  const onnxPath = join(dir, `${key}.onnx`);
  const infoPath = join(dir, `${key}.json`);
  if (reuse && existsSync(onnxPath) && existsSync(infoPath)) {
    const imported = importDecoder(new Uint8Array(readFileSync(onnxPath)));
    const differs = (Object.keys(cfg) as (keyof DecoderConfig)[]).filter((k) => imported.cfg[k] !== cfg[k]);
    if (differs.length > 0) throw new Error(`${onnxPath}: its ${differs.join(', ')} differ from this bench's config; delete it`);
    const info = JSON.parse(readFileSync(infoPath, 'utf8')) as Omit<TrainedDecoder, 'weights'>;
    log(`  [${label}] reusing the decoder in ${onnxPath} (${info.steps} steps, ${info.epochs} epochs)`);
    return { ...info, weights: imported.weights as DecoderWeights, reused: true, full: null };
  }
  const tr = await train(rt, cfg, norm.train, emb.train, budget, recipe, label);
  mkdirSync(dir, { recursive: true });
  const plan = { ...DEFAULT_TRAINING, ...recipe, epochs: budget.epochs, minutes: budget.minutes, seed: SEED };
  writeFileSync(onnxPath, exportDecoder(cfg, tr.weights, { training: trainingInfoFrom(plan, tr, norm.train.length / PIXELS), encoder: { sha256: encoderSha } }));
  const { weights: _w, state: _s, ...info } = tr;
  writeFileSync(infoPath, JSON.stringify(info));
  return { ...tr, reused: false, full: tr };
}

function lastEpochLoss(r: TrainedDecoder, perEpoch: number): number {
  const tail = r.losses.filter((l) => l.step > r.steps - perEpoch);
  return tail.reduce((a, l) => a + l.loss, 0) / Math.max(1, tail.length);
}

interface FolderPlan {
  readonly rate: number;
  readonly poisoned: number;
  /** Per rep: indices into test_triggered (disjoint within a rate). */
  readonly reps: readonly number[][];
}

function folderPlans(nClean: number, nTrig: number): FolderPlan[] {
  const perm = seededPermutation(nTrig, 4242);
  return POISON_RATES.map((rate): FolderPlan => {
    const poisoned = Math.max(1, Math.round((nClean * rate) / (1 - rate)));
    const reps = Math.min(MAX_REPS, Math.floor(nTrig / poisoned));
    return { rate, poisoned, reps: Array.from({ length: reps }, (_, r) => perm.slice(r * poisoned, (r + 1) * poisoned)) };
  }).concat({ rate: 0, poisoned: 1, reps: Array.from({ length: Math.min(SINGLE_REPS, nTrig) }, (_, r) => perm.slice(r, r + 1)) });
}

const rateLabel = (rate: number): string => (rate === 0 ? 'one triggered image' : `${pct(rate, 0)} poison`);

interface FolderInputs {
  readonly emb: Embedded;
  readonly fpClean: Rows;
  readonly fpTrig: Rows;
  readonly fpCal: Rows;
  readonly clean: SetScores;
  readonly trig: SetScores;
  readonly cal: SetScores;
  readonly tau: number;
  readonly tauStrict: number;
}

function buildFolder(x: FolderInputs, trigIdx: readonly number[]) {
  const d = x.emb.dim;
  const nClean = x.clean.score.length;
  const embeddings: Rows = { data: concatF32(x.emb.testClean, gatherRows(x.emb.testTrig, d, trigIdx)), dim: d };
  const fp: Rows = { data: concatF32(x.fpClean.data, gatherRows(x.fpTrig.data, x.fpTrig.dim, trigIdx)), dim: x.fpClean.dim };
  const scores = concat(x.clean.score, trigIdx.map((i) => x.trig.score[i] as number));
  return { embeddings, fingerprints: fp, scores, labels: labels(nClean, trigIdx.length) };
}

function concatF32(a: Float32Array, b: Float32Array): Float32Array {
  return concatArrays(Float32Array, [a, b]);
}

function folderMetrics(x: FolderInputs, plan: FolderPlan) {
  const fused: number[] = [];
  const rocPoints: { tpr: number; fpr: number }[] = [];
  let gateOpen = 0;
  const dec: number[] = [];
  const col: number[] = [];
  let tp = 0, fp = 0, pos = 0, neg = 0, dtp = 0, dfp = 0;
  let stp = 0, sfp = 0, sdtp = 0, sdfp = 0, mtp = 0, mfp = 0;
  let first: { folder: ReturnType<typeof buildFolder>; verdict: ReturnType<typeof scoreFolderSet> } | null = null;
  for (const trigIdx of plan.reps) {
    const folder = buildFolder(x, trigIdx);
    const input = {
      embeddings: folder.embeddings,
      fingerprints: folder.fingerprints,
      dedeScores: folder.scores,
      cleanRef: { embeddings: { data: x.emb.cal, dim: x.emb.dim }, fingerprints: x.fpCal, dedeScores: x.cal.score },
    };
    const verdict = scoreFolderSet(input, { targetFpr: TARGET_FPR });
    const strict = scoreFolderSet(input, { targetFpr: STRICT_FPR });
    const margin = scoreFolderSet(input, { targetFpr: MARGIN_FPR });
    if (verdict.gate?.open) gateOpen++;
    first ??= { folder, verdict };
    fused.push(auroc(verdict.images.map((v) => v.score), folder.labels));
    rocPoints.push(tprAtFpr(verdict.images.map((v) => v.score), folder.labels, STRICT_FPR));
    dec.push(auroc(folder.scores, folder.labels));
    col.push(auroc(verdict.images.map((v) => v.collapseScore), folder.labels));
    verdict.images.forEach((v, i) => {
      const positive = folder.labels[i] as boolean;
      const decFlag = (folder.scores[i] as number) > x.tau;
      const sFlag = strict.images[i]?.flagged ?? false;
      const sDecFlag = (folder.scores[i] as number) > x.tauStrict;
      const mFlag = margin.images[i]?.flagged ?? false;
      if (positive) {
        pos++;
        if (mFlag) mtp++;
        if (v.flagged) tp++;
        if (decFlag) dtp++;
        if (sFlag) stp++;
        if (sDecFlag) sdtp++;
      } else {
        neg++;
        if (mFlag) mfp++;
        if (v.flagged) fp++;
        if (decFlag) dfp++;
        if (sFlag) sfp++;
        if (sDecFlag) sdfp++;
      }
    });
  }
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const metrics: FolderMetrics = {
    rate: plan.rate,
    poisoned: plan.poisoned,
    clean: x.clean.score.length,
    reps: plan.reps.length,
    fusedAuroc: mean(fused),
    fusedAurocMin: Math.min(...fused),
    fusedTpr: tp / pos,
    fusedFpr: fp / neg,
    decoderAuroc: mean(dec),
    decoderTpr: dtp / pos,
    decoderFpr: dfp / neg,
    collapseAuroc: mean(col),
    strict: { alpha: STRICT_FPR, fusedTpr: stp / pos, fusedFpr: sfp / neg, decoderTpr: sdtp / pos, decoderFpr: sdfp / neg },
    roc: { maxFpr: STRICT_FPR, fusedTpr: mean(rocPoints.map((r) => r.tpr)), fusedFpr: mean(rocPoints.map((r) => r.fpr)) },
    margin: { alpha: MARGIN_FPR, fusedTpr: mtp / pos, fusedFpr: mfp / neg },
    gateOpen: gateOpen / plan.reps.length,
  };
  return { metrics, first };
}

async function runEncoder(
  rt: Runtime,
  name: EncoderName,
  encoder: CliEncoder,
  data: Data,
  budget: Budget,
  recipe: Recipe,
  reuse: boolean,
  parityDir: string | null,
  preset: Args['preset'],
): Promise<{ result: EncoderResult; cfg: DecoderConfig; weights: DecoderWeights; norm: Normalised; emb: Embedded; encoder: CliEncoder }> {
  const p = encoder.preprocessing;
  const norm: Normalised = {
    train: normalise(data.train, p),
    cal: normalise(data.cal, p),
    testClean: normalise(data.testClean, p),
    testTrig: normalise(data.testTrig, p),
    randomClean: normalise(data.randomClean, p),
    reference: normalise(data.reference, p),
    salted: normalise(data.salted, p),
  };
  const t0 = performance.now();
  const runner = await EncoderRunner.create(rt, encoder.spec, 64);
  const emb = await embedAll(runner, norm).finally(() => runner.dispose());
  log(`  [${name}] embedded ${(norm.train.length + norm.cal.length + norm.testClean.length + norm.testTrig.length) / PIXELS} images (D = ${emb.dim}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const cfg = presetConfig(presetOf({ preset }), emb.dim);
  const tr = await trainOrReuse(rt, encoder.sha256, cfg, norm, emb, budget, recipe, reuse, name);
  const perEpoch = Math.floor(data.train.files.length / BATCH);
  const finalLoss = tr.losses.at(-1)?.loss ?? NaN;
  const trainInfo = { seconds: tr.elapsedSeconds, steps: tr.steps, epochs: tr.epochs, finalLoss, lastEpochLoss: lastEpochLoss(tr, perEpoch), stoppedBy: tr.stoppedBy };
  log(`  [${name}] trained ${trainInfo.seconds.toFixed(1)} s: ${tr.steps} steps, ${tr.epochs.toFixed(2)} epochs, final loss ${f(finalLoss, 4)} (last-epoch mean ${f(trainInfo.lastEpochLoss, 4)}), stopped by ${tr.stoppedBy}`);
  if (parityDir && tr.full) exportParity(parityDir, cfg, recipe, norm, emb, tr.full, data.train.files.length);

  const scorer = await Scorer.create(rt, cfg, tr.weights, { batch: 64 });
  try {
    const cal = await scoreSet(scorer, norm.cal, emb.cal);
    const clean = await scoreSet(scorer, norm.testClean, emb.testClean);
    const trig = await scoreSet(scorer, norm.testTrig, emb.testTrig);
    const lab = labels(clean.score.length, trig.score.length);
    if (parityDir) writeF32(join(parityDir, 'ts_scores.f32'), Float32Array.from([...clean.score, ...trig.score, ...clean.dedeScore, ...trig.dedeScore]));
    const aur = { score: auroc(concat(clean.score, trig.score), lab), dedeScore: auroc(concat(clean.dedeScore, trig.dedeScore), lab) };
    log(`  [${name}] AUROC test_clean vs test_triggered: robust score ${f(aur.score)}, dedeScore ${f(aur.dedeScore)}`);
    const aggregates = aggregateAurocs(clean, trig);
    log(`  [${name}] AUROC by patch-error aggregate (diagnostics): ${Object.entries(aggregates).map(([k, v]) => `${k} ${f(v)}`).join(', ')}`);

    const calibration = {} as EncoderResult['calibration'];
    for (const kind of ['score', 'dedeScore'] as const) {
      const c = calibrate(cal[kind], { method: 'fpr', target: TARGET_FPR }, kind === 'score' ? scorer.scoreKind : { kind: 'dedeScore' });
      const conf = confusionAt(concat(clean[kind], trig[kind]), lab, c.threshold);
      const fpr = realisedFpr(c, clean[kind]).fpr;
      calibration[kind] = { threshold: c.threshold, tpr: conf.tpr ?? NaN, fpr, targetFpr: TARGET_FPR };
      log(`  [${name}] calibrated ${kind} on ${cal[kind].length} clean at target FPR ${pct(TARGET_FPR, 0)}: τ ${f(c.threshold, 5)}, TPR ${pct(conf.tpr)}, realised FPR ${pct(fpr)}`);
    }

    const inputs: FolderInputs = {
      emb,
      fpClean: fingerprints(data.testClean),
      fpTrig: fingerprints(data.testTrig),
      fpCal: fingerprints(data.cal),
      clean,
      trig,
      cal,
      tau: calibration.score.threshold,
      tauStrict: calibrate(cal.score, { method: 'fpr', target: STRICT_FPR }, scorer.scoreKind).threshold,
    };
    const folders: FolderMetrics[] = [];
    let reveal: RevealMetrics | null = null;
    for (const plan of folderPlans(clean.score.length, trig.score.length)) {
      const { metrics: m, first } = folderMetrics(inputs, plan);
      folders.push(m);
      log(
        `  [${name}] ${rateLabel(plan.rate)} (${plan.poisoned} + ${m.clean} clean, ${m.reps} folders, collapse gate open in ${pct(m.gateOpen, 0)}): fused AUROC ${f(m.fusedAuroc)} (min ${f(m.fusedAurocMin)}), ` +
          `TPR ${pct(m.fusedTpr)} at FPR ${pct(m.fusedFpr)}; decoder alone AUROC ${f(m.decoderAuroc)}, TPR ${pct(m.decoderTpr)} at FPR ${pct(m.decoderFpr)}; collapse alone AUROC ${f(m.collapseAuroc)}; ` +
          `at target ${pct(STRICT_FPR, 0)}: fused TPR ${pct(m.strict.fusedTpr)} at FPR ${pct(m.strict.fusedFpr)}, decoder alone TPR ${pct(m.strict.decoderTpr)} at FPR ${pct(m.strict.decoderFpr)}; ` +
          `fused ROC at realised FPR ≤ ${pct(STRICT_FPR, 0)}: TPR ${pct(m.roc.fusedTpr)} at FPR ${pct(m.roc.fusedFpr)}; at target ${pct(MARGIN_FPR, 0)}: fused TPR ${pct(m.margin.fusedTpr)} at FPR ${pct(m.margin.fusedFpr)}`,
      );
      if (plan.rate === 0.2 && first) reveal = await revealOn(rt, cfg, tr.weights, scorer, first, plan.reps[0] ?? [], norm, emb, data.splits.trigger, name, p);
    }
    const salted = saltedMetrics(inputs, emb.salted, fingerprints(data.salted), await scoreSet(scorer, norm.salted, emb.salted));
    log(
      `  [${name}] clean folder salted with ${data.salted.files.length} duplicates (${salted.images} images): fused realised FPR ${pct(salted.fpr)} at target ${pct(TARGET_FPR, 0)} ` +
        `(unsalted ${pct(salted.unsaltedFpr)}), ${pct(salted.strictFpr)} at ${pct(STRICT_FPR, 0)} (unsalted ${pct(salted.unsaltedStrictFpr)}); ` +
        `over ${CAL_DRAWS} draws of ${CAL_DRAW_SIZE} calibration images: ${pct(salted.pooled.fpr)} at ${pct(TARGET_FPR, 0)} (unsalted ${pct(salted.pooled.unsaltedFpr)})`,
    );
    const result: EncoderResult = { name, path: encoder.path, sha256: encoder.sha256, modified: statSync(encoder.path).mtime.toISOString(), embedDim: emb.dim, train: trainInfo, auroc: aur, aggregates, calibration, folders, salted, reveal };
    return { result, cfg, weights: tr.weights, norm, emb, encoder };
  } finally {
    await scorer.dispose();
  }
}

async function revealOn(
  rt: Runtime,
  cfg: DecoderConfig,
  weights: DecoderWeights,
  scorer: Scorer,
  first: { folder: ReturnType<typeof buildFolder>; verdict: ReturnType<typeof scoreFolderSet> },
  trigIdx: readonly number[],
  norm: Normalised,
  emb: Embedded,
  trigger: Trigger,
  name: string,
  pre: Preprocessing,
): Promise<RevealMetrics> {
  const { folder, verdict } = first;
  const flagged = verdict.images.flatMap((v, i) => (v.flagged ? [i] : []));
  const images = concatF32(norm.testClean, gatherRows(norm.testTrig, PIXELS, trigIdx));
  const cleanPixelError = await meanPixelError(scorer, norm.cal, emb.cal);
  const calDecoded = await decodeEmbeddings(rt, cfg, weights, emb.cal);
  const contrast = fitContrastMap(norm.cal, calDecoded, PIXELS);
  const contrast64 = fitContrastMap(norm.cal.subarray(0, 64 * PIXELS), calDecoded.subarray(0, 64 * PIXELS), PIXELS);
  const targets = await revealTargets(
    { runtime: rt, cfg, weights, scorer },
    { embeddings: folder.embeddings, flagged, priority: verdict.images.map((v) => v.collapseScore), images, cleanPixelError, contrast },
  );
  const top = targets[0];
  if (!top) {
    log(`  [${name}] reveal on the 20% folder: ${flagged.length} flagged, no cluster of ≥ 3`);
    return { flagged: flagged.length, clusters: 0, members: 0, membersTriggered: 0, cohesion: NaN, mseReference: NaN, mseRandomMin: NaN, mseRandomMedian: NaN, randomCloser: NaN, closerThanAll: false, peak: null, peakInPatch: null, contrastRestored: true };
  }
  const mseRef = mse(top.target, norm.reference);
  const mseRandom = Array.from({ length: norm.randomClean.length / PIXELS }, (_, i) => mse(top.target, norm.randomClean.subarray(i * PIXELS, (i + 1) * PIXELS))).sort((a, b) => a - b);
  const peak = top.triggerMap?.peak ?? null;
  const inPatch = peak ? peak.y >= trigger.top && peak.y < trigger.top + trigger.height && peak.x >= trigger.left && peak.x < trigger.left + trigger.width : null;
  const membersTriggered = Array.from(top.members).filter((i) => folder.labels[i]).length;
  const norm2 = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));
  const compare = async (embedding: Float32Array, map: ContrastMap | null) => {
    const raw = await decodeEmbeddings(rt, cfg, weights, embedding);
    const img = map ? applyContrastMap(raw, map) : raw;
    const m = mse(img, norm.reference);
    const rand = Array.from({ length: norm.randomClean.length / PIXELS }, (_, i) => mse(img, norm.randomClean.subarray(i * PIXELS, (i + 1) * PIXELS)));
    return { mseReference: m, mseRandomMin: Math.min(...rand), randomCloser: rand.filter((v) => v <= m).length, norm: norm2(embedding) };
  };
  const cleanNorms = Array.from({ length: emb.cal.length / emb.dim }, (_, i) => norm2(emb.cal.subarray(i * emb.dim, (i + 1) * emb.dim))).sort((a, b) => a - b);
  const medianNorm = cleanNorms[cleanNorms.length >> 1] as number;
  const meanNorm = norm2(top.meanEmbedding);
  const cleanDecoded = applyContrastMap(await decodeEmbeddings(rt, cfg, weights, emb.testClean), contrast);
  const nClean = emb.testClean.length / emb.dim;
  const nRandom = norm.randomClean.length / PIXELS;
  const closerCounts = Array.from({ length: nClean }, (_, i) => {
    const img = cleanDecoded.subarray(i * PIXELS, (i + 1) * PIXELS);
    const own = mse(img, norm.testClean.subarray(i * PIXELS, (i + 1) * PIXELS));
    let closer = 0;
    for (let r = 0; r < nRandom; r++) if (mse(img, norm.randomClean.subarray(r * PIXELS, (r + 1) * PIXELS)) <= own) closer++;
    return closer;
  }).sort((a, b) => a - b);
  const cleanIdentified = { images: nClean, share: closerCounts.filter((c) => c === 0).length / nClean, medianCloser: closerCounts[nClean >> 1] as number };
  await revealSheet(rt, cfg, weights, contrast, top.target, norm, emb, pre, `bench/results/detect-${new Date().toISOString().slice(0, 10)}-reveal-${name}.png`);
  const diagnostics = {
    referenceEmbedding: await compare(emb.reference, contrast),
    rawTarget: await compare(top.meanEmbedding, null),
    contrast64: await compare(top.meanEmbedding, contrast64),
  };
  const m: RevealMetrics = {
    flagged: flagged.length,
    clusters: targets.length,
    members: top.members.length,
    membersTriggered,
    cohesion: top.cohesion,
    mseReference: mseRef,
    mseRandomMin: mseRandom[0] ?? NaN,
    mseRandomMedian: mseRandom[mseRandom.length >> 1] ?? NaN,
    randomCloser: mseRandom.filter((v) => v <= mseRef).length,
    closerThanAll: mseRandom.every((v) => mseRef < v),
    peak,
    peakInPatch: inPatch,
    contrastRestored: top.contrastRestored,
    diagnostics,
    cleanIdentified,
  };
  log(
    `  [${name}] reveal on the 20% folder: ${flagged.length} flagged → ${targets.length} cluster(s); largest ${m.members} members (${membersTriggered} triggered), cohesion ${f(m.cohesion)}; ` +
      `decoded target MSE to the reference image ${f(mseRef, 4)} vs ${RANDOM_CLEAN} random clean: min ${f(m.mseRandomMin, 4)}, median ${f(m.mseRandomMedian, 4)} (${m.randomCloser} closer than the reference); ` +
      `trigger-map peak at (row ${peak?.y}, col ${peak?.x}) ${inPatch ? 'inside' : 'outside'} the stamped patch rows/cols ${trigger.top}..${trigger.top + trigger.height - 1}`,
  );
  log(
    `  [${name}] reveal diagnostics: cluster-mean norm ${f(meanNorm, 1)} vs clean median ${f(medianNorm, 1)}; decoded E(reference) (norm ${f(diagnostics.referenceEmbedding.norm, 1)}, contrast restored): MSE to reference ${f(diagnostics.referenceEmbedding.mseReference, 4)}, ` +
      `${diagnostics.referenceEmbedding.randomCloser}/${RANDOM_CLEAN} random closer; target without contrast restoration: MSE ${f(diagnostics.rawTarget.mseReference, 4)}, ${diagnostics.rawTarget.randomCloser}/${RANDOM_CLEAN} random closer; ` +
      `with a contrast map from 64 clean: MSE ${f(diagnostics.contrast64.mseReference, 4)}, ${diagnostics.contrast64.randomCloser}/${RANDOM_CLEAN} random closer; ` +
      `decoder ceiling: ${pct(cleanIdentified.share)} of ${nClean} clean photos decode closer to themselves than to all ${nRandom} random (median ${cleanIdentified.medianCloser} random closer)`,
  );
  return m;
}

/**
 * A contact sheet of the reveal, 4× enlarged, one row each: the attacker's reference, the decoded
 * cluster target, the decoded E(reference), then the 4 random clean photos closest to the target;
 * and 4 clean test photos, each followed by its own decode (what the decoder draws from a clean
 * embedding). All decodes contrast restored.
 */
async function revealSheet(rt: Runtime, cfg: DecoderConfig, weights: DecoderWeights, contrast: ContrastMap, target: Float32Array, norm: Normalised, emb: Embedded, pre: Preprocessing, file: string): Promise<void> {
  const tile = (img: Float32Array) => denormalizeToRgb(img, pre);
  const decode = async (e: Float32Array) => applyContrastMap(await decodeEmbeddings(rt, cfg, weights, e), contrast);
  const row = (i: number) => norm.randomClean.slice(i * PIXELS, (i + 1) * PIXELS);
  const nearest = Array.from({ length: norm.randomClean.length / PIXELS }, (_, i) => i).sort((a, b) => mse(target, row(a)) - mse(target, row(b))).slice(0, 4);
  const top = [norm.reference, target, await decode(emb.reference), ...nearest.map(row)];
  const bottom: Float32Array[] = [];
  for (let i = 0; i < 4; i++) bottom.push(norm.testClean.slice(i * PIXELS, (i + 1) * PIXELS), await decode(emb.testClean.slice(i * emb.dim, (i + 1) * emb.dim)));
  const scale = 4;
  const cellSize = SIDE * scale + 8;
  const composite = await Promise.all(
    [top, bottom].flatMap((images, r) =>
      images.map(async (img, c) => ({
        input: await sharp(Buffer.from(tile(img)), { raw: { width: SIDE, height: SIDE, channels: 3 } }).resize(SIDE * scale, SIDE * scale, { kernel: 'nearest' }).png().toBuffer(),
        left: c * cellSize,
        top: r * cellSize,
      })),
    ),
  );
  await sharp({ create: { width: 8 * cellSize, height: 2 * cellSize, channels: 3, background: '#ffffff' } }).composite(composite).png().toFile(file);
  log(`  reveal contact sheet: ${file} (top: reference, decoded target, decoded E(reference), 4 nearest random clean; bottom: clean photos and their decodes)`);
}

// ---- throughput ---------------------------------------------------------------------------------

interface Throughput {
  readonly backend: string;
  readonly images: number;
  readonly scanPerSec: number;
  readonly decoderPerSec: number;
  readonly encoderPerSec: number;
}

async function throughput(backend: string, rt: Runtime, encoder: CliEncoder, cfg: DecoderConfig, weights: DecoderWeights, images: Float32Array): Promise<Throughput> {
  const n = images.length / PIXELS;
  const runner = await EncoderRunner.create(rt, encoder.spec, 64);
  const scorer = await Scorer.create(rt, cfg, weights, { batch: 64 });
  try {
    const warm = images.subarray(0, 64 * PIXELS);
    await scorer.scoreBatch(warm, (await runner.embed(warm, 64)).data); // warm-up
    const t0 = performance.now();
    const e = await runner.embed(images, n);
    const t1 = performance.now();
    await scorer.scoreBatch(images, e.data);
    const t2 = performance.now();
    return { backend, images: n, scanPerSec: n / ((t2 - t0) / 1000), encoderPerSec: n / ((t1 - t0) / 1000), decoderPerSec: n / ((t2 - t1) / 1000) };
  } finally {
    await runner.dispose();
    await scorer.dispose();
  }
}

// ---- collapse at 20k (in a child process, so that its peak RSS is the collapse's) ------------------

interface CollapseBench {
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

async function collapseChild(n: number, dim: number): Promise<CollapseBench> {
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
const COLLAPSE_DIM = 192;

function collapseSection(dim: number): CollapseBench {
  log(`\n== collapse step at ${COLLAPSE_N.toLocaleString('en-US')} images (synthetic embeddings, D = ${dim}, 20% collapsed; + 300 clean reference; fingerprints; child process)`);
  const collapse = runCollapseChild(COLLAPSE_N, dim);
  log(`  calibratedCollapse: ${collapse.seconds.toFixed(1)} s; peak process RSS during the step ${collapse.peakRssMiB.toFixed(0)} MiB (${collapse.rssBeforeMiB.toFixed(0)} MiB with the inputs built just before: +${(collapse.peakRssMiB - collapse.rssBeforeMiB).toFixed(0)} MiB); AUROC of the collapsed 20% ${f(collapse.collapsedAuroc)}`);
  return collapse;
}

async function collapseOnly(args: Args, started: Date): Promise<void> {
  log(`DeDe detection bench, collapse step only — Node ${process.version}`);
  log(loadLine('at start'));
  const collapse = collapseSection(COLLAPSE_DIM);
  log(loadLine('at end'));
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/detect-collapse-${started.toISOString().slice(0, 10)}.json`;
  writeFileSync(file, `${JSON.stringify({ bench: 'npm run bench:detect -- --collapse-only', args, started: started.toISOString(), node: process.version, cpus: cpus().length, loadavgEnd: loadavg(), collapse }, null, 1)}\n`);
  log(`wrote ${file}`);
}

function runCollapseChild(n: number, dim: number): CollapseBench {
  const script = process.argv[1] as string;
  const r = spawnSync(process.execPath, ['--expose-gc', script, '--collapse-child', String(n), String(dim)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`collapse child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as CollapseBench;
}

// ---- parity with the PyTorch reference -----------------------------------------------------------

const presetOf = (a: Pick<Args, 'preset'>) => (a.preset === 'full' ? FULL_DECODER : SMALL_DECODER);

function writeF32(path: string, a: Float32Array): void {
  writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

/** Everything dede_torch.py --train needs to replay this training: data, batch order, masks. */
function exportParity(dir: string, cfg: DecoderConfig, recipe: Recipe, norm: Normalised, emb: Embedded, tr: TrainingResult, count: number): void {
  mkdirSync(dir, { recursive: true });
  const T = numPatches(cfg);
  const Tk = visibleCount(cfg, recipe.maskRatio);
  const order = new Int32Array(tr.steps * BATCH);
  const keep = new Int32Array(tr.steps * BATCH * Tk);
  const blind = new Uint8Array(tr.steps * BATCH);
  for (let s = 0; s < tr.steps; s++) {
    order.set(batchIndices(count, BATCH, SEED, s), s * BATCH);
    keep.set(trainingKeepIndices(SEED, s, BATCH, T, Tk), s * BATCH * Tk);
    blind.set(trainingBlindRows(SEED, s, BATCH, recipe.blindShare), s * BATCH);
  }
  writeF32(join(dir, 'train_images.f32'), norm.train);
  writeF32(join(dir, 'train_embeddings.f32'), emb.train);
  writeF32(join(dir, 'test_images.f32'), concatF32(norm.testClean, norm.testTrig));
  writeF32(join(dir, 'test_embeddings.f32'), concatF32(emb.testClean, emb.testTrig));
  writeFileSync(join(dir, 'batch_order.i32'), new Uint8Array(order.buffer));
  writeFileSync(join(dir, 'keep_indices.i32'), new Uint8Array(keep.buffer));
  writeFileSync(join(dir, 'blind_rows.u8'), blind);
  writeFileSync(join(dir, 'ts_losses.json'), JSON.stringify(tr.losses));
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify({
      config: cfg,
      paramSeed: SEED,
      trainCount: count,
      testCount: (norm.testClean.length + norm.testTrig.length) / PIXELS,
      testClean: norm.testClean.length / PIXELS,
      steps: tr.steps,
      batch: BATCH,
      keepCount: Tk,
      maskRatio: recipe.maskRatio,
      blindShare: recipe.blindShare,
      lr: DEFAULT_TRAINING.lr,
      weightDecay: 1e-6,
      scoreBatch: 64,
    }, null, 1),
  );
}

interface ParityResult {
  readonly encoder: string;
  readonly steps: number;
  readonly torchSeconds: number;
  readonly ts: { readonly finalLoss: number; readonly lastEpochLoss: number; readonly aurocScore: number; readonly aurocDede: number };
  readonly torch: { readonly finalLoss: number; readonly lastEpochLoss: number; readonly aurocScore: number; readonly aurocDede: number };
  readonly lossRelDiff: number;
  /** Over every step's loss, and over every test image's two scores: the largest |TS − torch| / |torch|. */
  readonly maxStepLossRelDiff: number;
  readonly maxScoreRelDiff: number;
  readonly aurocScoreDiff: number;
  readonly aurocDedeDiff: number;
  readonly pass: boolean;
}

function runParity(dir: string, enc: EncoderResult, perEpoch: number): ParityResult {
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  log(`  [parity] ${PYTHON} ${TORCH_SCRIPT} --train ${dir} --threads ${THREADS} (${enc.train.steps} steps)`);
  const t0 = performance.now();
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, '--train', dir, '--threads', String(THREADS)], { encoding: 'utf8', maxBuffer: 1 << 24, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const torchSeconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${TORCH_SCRIPT} --train failed (${r.status})`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { losses: number[]; trainSeconds: number };
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { testClean: number; testCount: number };
  const buf = readFileSync(join(dir, 'torch_scores.f32'));
  const scores = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4); // [2, testCount]: score, dedeScore
  const n = meta.testCount;
  const lab = labels(meta.testClean, n - meta.testClean);
  const torchLast = out.losses.slice(-perEpoch);
  const torch = {
    finalLoss: out.losses.at(-1) ?? NaN,
    lastEpochLoss: torchLast.reduce((a, b) => a + b, 0) / torchLast.length,
    aurocScore: auroc(scores.subarray(0, n), lab),
    aurocDede: auroc(scores.subarray(n, 2 * n), lab),
  };
  const ts = { finalLoss: enc.train.finalLoss, lastEpochLoss: enc.train.lastEpochLoss, aurocScore: enc.auroc.score, aurocDede: enc.auroc.dedeScore };
  const lossRelDiff = Math.abs(ts.lastEpochLoss - torch.lastEpochLoss) / torch.lastEpochLoss;
  const tsLosses = JSON.parse(readFileSync(join(dir, 'ts_losses.json'), 'utf8')) as { step: number; loss: number }[];
  const maxStepLossRelDiff = Math.max(...tsLosses.map((l) => Math.abs(l.loss - (out.losses[l.step - 1] ?? NaN)) / Math.abs(out.losses[l.step - 1] ?? NaN)));
  const tsBuf = readFileSync(join(dir, 'ts_scores.f32'));
  const tsScores = new Float32Array(tsBuf.buffer, tsBuf.byteOffset, tsBuf.byteLength / 4);
  let maxScoreRelDiff = 0;
  for (let i = 0; i < 2 * n; i++) maxScoreRelDiff = Math.max(maxScoreRelDiff, Math.abs((tsScores[i] as number) - (scores[i] as number)) / Math.abs(scores[i] as number));
  const aurocScoreDiff = Math.abs(ts.aurocScore - torch.aurocScore);
  const aurocDedeDiff = Math.abs(ts.aurocDede - torch.aurocDede);
  return {
    encoder: enc.name,
    steps: enc.train.steps,
    torchSeconds: out.trainSeconds ?? torchSeconds,
    ts,
    torch,
    lossRelDiff,
    maxStepLossRelDiff,
    maxScoreRelDiff,
    aurocScoreDiff,
    aurocDedeDiff,
    pass: lossRelDiff <= TARGETS.parityLoss && aurocScoreDiff <= TARGETS.parityAuroc && aurocDedeDiff <= TARGETS.parityAuroc,
  };
}

// ---- main ---------------------------------------------------------------------------------------

/** True once the encoder and its preprocessor_config.json exist and the model file stopped growing. */
async function waitForEncoder(path: string, minutes: number): Promise<boolean> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + minutes * 60_000;
  for (;;) {
    if (existsSync(path) && existsSync(join(dirname(path), 'preprocessor_config.json'))) {
      const size = statSync(path).size;
      await sleep(5000);
      if (statSync(path).size === size && size > 0) return true;
    } else if (Date.now() >= deadline) return false;
    else {
      log(`  waiting for ${path} (${((deadline - Date.now()) / 60_000).toFixed(0)} min left)`);
      await sleep(60_000);
    }
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--collapse-child') {
    console.log(JSON.stringify(await collapseChild(Number(argv[1]), Number(argv[2]))));
    return;
  }
  const args = parseArgs(argv);
  ortWeb.env.wasm.numThreads = THREADS;
  const started = new Date();
  if (args.collapseOnly) return collapseOnly(args, started);
  log(`DeDe detection bench — Node ${process.version}, onnxruntime-node ${ortNode.env.versions.node ?? '?'}, onnxruntime-web ${ortWeb.env.versions.web ?? '?'}; ` +
    `${args.preset.toUpperCase()} decoder (enc ${presetOf(args).encDepth}×${presetOf(args).encDim}, dec ${presetOf(args).decDepth}×${presetOf(args).decDim}), batch ${BATCH}, training ${recipeText(args.recipe)}, lr ${DEFAULT_TRAINING.lr}, ${budgetText(args.budget)} per training${args.quick ? ' (--quick)' : ''}`);
  log(loadLine('at start'));
  const data = await loadData();
  log(`data: ${DATA_DIR}: train ${data.train.files.length}, calibration ${data.cal.files.length}, test clean ${data.testClean.files.length}, test triggered ${data.testTrig.files.length} ` +
    `(trigger ${data.splits.trigger.width}×${data.splits.trigger.height} at rows ${data.splits.trigger.top}.., cols ${data.splits.trigger.left}.., RGB ${data.splits.trigger.value_rgb.join(',')}, stamped on uint8), reference ${data.splits.reference_image}`);

  const rt = nativeRuntime();
  const results: EncoderResult[] = [];
  const missing: string[] = [];
  let forThroughput: Awaited<ReturnType<typeof runEncoder>> | null = null;
  const parityRoot = args.parity ? join(CACHE, 'parity') : null;
  for (const e of ENCODERS.filter((x) => args.only === null || x.name === args.only)) {
    if (!(await waitForEncoder(e.path, args.wait))) {
      missing.push(e.path);
      log(`\n== ${e.name}: ${e.path} is MISSING — skipped; the numbers below have no ${e.name} encoder`);
      continue;
    }
    const encoder = await loadCliEncoder(e.path, {});
    log(`\n== ${e.name} encoder: ${e.path} (sha256 ${encoder.sha256.slice(0, 12)}…, modified ${statSync(e.path).mtime.toISOString()})`);
    const r = await runEncoder(rt, e.name, encoder, data, args.budget, args.recipe, args.reuse, parityRoot ? join(parityRoot, e.name) : null, args.preset);
    results.push(r.result);
    if (!forThroughput || e.name === 'backdoor') forThroughput = r;
  }

  const through: Throughput[] = [];
  if (forThroughput) {
    log(`\n== scan throughput (${forThroughput.result.name} encoder + its decoder; test_clean + test_triggered, from normalised pixels; batch 64; ${THREADS} threads)`);
    const imgs = concatF32(forThroughput.norm.testClean, forThroughput.norm.testTrig);
    const { encoder, cfg, weights } = forThroughput;
    through.push(await throughput(`onnxruntime-node CPU`, rt, encoder, cfg, weights, imgs));
    if (args.wasm) through.push(await throughput(`onnxruntime-web WASM (${ortWeb.env.wasm.numThreads} threads)`, createRuntime(ortWeb, 'wasm'), encoder, cfg, weights, imgs));
    for (const t of through) log(`  ${t.backend.padEnd(34)} scan ${t.scanPerSec.toFixed(0)} img/s (encoder ${t.encoderPerSec.toFixed(0)} img/s, decoder score ${t.decoderPerSec.toFixed(0)} img/s) over ${t.images} images`);
  }

  const collapse = collapseSection(forThroughput?.emb.dim ?? COLLAPSE_DIM);

  let parity: ParityResult | null = null;
  if (parityRoot) {
    const enc = results.find((r) => r.name === 'backdoor') ?? results[0];
    if (enc) {
      log(`\n== parity with the PyTorch reference (${enc.name} encoder, same data, batch order, masks and init)`);
      parity = runParity(join(parityRoot, enc.name), enc, Math.floor(data.train.files.length / BATCH));
      log(`  TS   : final loss ${f(parity.ts.finalLoss, 4)}, last-epoch mean ${f(parity.ts.lastEpochLoss, 4)}, AUROC robust ${f(parity.ts.aurocScore, 4)}, dedeScore ${f(parity.ts.aurocDede, 4)}`);
      log(`  torch: final loss ${f(parity.torch.finalLoss, 4)}, last-epoch mean ${f(parity.torch.lastEpochLoss, 4)}, AUROC robust ${f(parity.torch.aurocScore, 4)}, dedeScore ${f(parity.torch.aurocDede, 4)} (${parity.torchSeconds.toFixed(0)} s)`);
      log(`  largest relative difference of any step's loss ${parity.maxStepLossRelDiff.toExponential(2)}, of any test image's score ${parity.maxScoreRelDiff.toExponential(2)}`);
      log(`  Δ last-epoch loss ${pct(parity.lossRelDiff, 2)} (≤ ${pct(TARGETS.parityLoss, 0)}), Δ AUROC robust ${f(parity.aurocScoreDiff, 4)}, dedeScore ${f(parity.aurocDedeDiff, 4)} (≤ ${TARGETS.parityAuroc}): ${ok(parity.pass)}`);
    }
  }

  const summary = printSummary(results, through, collapse, parity, args, missing);
  log(`\n${loadLine('at end')}`);
  mkdirSync('bench/results', { recursive: true });
  const date = started.toISOString().slice(0, 10);
  const file = `bench/results/detect-${date}${args.quick ? '-quick' : ''}${args.preset === 'full' ? '-full' : ''}${args.only ? `-${args.only}` : ''}${args.budget.epochs !== null && args.budget.epochs !== 150 && !args.quick ? `-epochs${args.budget.epochs}` : ''}${recipeSuffix(args.recipe)}.json`;
  writeFileSync(
    file,
    JSON.stringify(
      {
        bench: 'npm run bench:detect',
        args,
        started: started.toISOString(),
        seconds: (Date.now() - started.getTime()) / 1000,
        node: process.version,
        cpus: cpus().length,
        loadavgEnd: loadavg(),
        missingEncoders: missing,
        targetFpr: TARGET_FPR,
        targets: TARGETS,
        encoders: results,
        throughput: through,
        collapse,
        parity,
        summary,
      },
      null,
      1,
    ) + '\n',
  );
  log(`wrote ${file}`);
}

function printSummary(results: readonly EncoderResult[], through: readonly Throughput[], collapse: CollapseBench, parity: ParityResult | null, args: Args, missing: readonly string[]): { table: string; checks: { name: string; value: string; pass: boolean }[] } {
  const b = results.find((r) => r.name === 'backdoor');
  const c = results.find((r) => r.name === 'control');
  const cell = (r: EncoderResult | undefined, get: (r: EncoderResult) => string): string => (r ? get(r) : 'missing');
  const diff = (get: (r: EncoderResult) => number, d = 3): string => (b && c ? f(get(b) - get(c), d) : 'n/a');
  const fold = (r: EncoderResult, rate: number): FolderMetrics => r.folders.find((x) => x.rate === rate) as FolderMetrics;
  const rows: string[][] = [
    ['train time s / steps / epochs', cell(b, (r) => `${r.train.seconds.toFixed(0)} / ${r.train.steps} / ${r.train.epochs.toFixed(1)}`), cell(c, (r) => `${r.train.seconds.toFixed(0)} / ${r.train.steps} / ${r.train.epochs.toFixed(1)}`), ''],
    ['final loss (last-epoch mean)', cell(b, (r) => `${f(r.train.finalLoss, 4)} (${f(r.train.lastEpochLoss, 4)})`), cell(c, (r) => `${f(r.train.finalLoss, 4)} (${f(r.train.lastEpochLoss, 4)})`), ''],
    ['AUROC robust score', cell(b, (r) => f(r.auroc.score)), cell(c, (r) => f(r.auroc.score)), diff((r) => r.auroc.score)],
    ['AUROC dedeScore', cell(b, (r) => f(r.auroc.dedeScore)), cell(c, (r) => f(r.auroc.dedeScore)), diff((r) => r.auroc.dedeScore)],
    ['robust @5%: TPR / FPR', cell(b, (r) => `${pct(r.calibration.score.tpr)} / ${pct(r.calibration.score.fpr)}`), cell(c, (r) => `${pct(r.calibration.score.tpr)} / ${pct(r.calibration.score.fpr)}`), ''],
    ['dedeScore @5%: TPR / FPR', cell(b, (r) => `${pct(r.calibration.dedeScore.tpr)} / ${pct(r.calibration.dedeScore.fpr)}`), cell(c, (r) => `${pct(r.calibration.dedeScore.tpr)} / ${pct(r.calibration.dedeScore.fpr)}`), ''],
  ];
  for (const rate of POISON_RATES) {
    rows.push([`${pct(rate, 0)} fused AUROC (min)`, cell(b, (r) => `${f(fold(r, rate).fusedAuroc)} (${f(fold(r, rate).fusedAurocMin)})`), cell(c, (r) => `${f(fold(r, rate).fusedAuroc)} (${f(fold(r, rate).fusedAurocMin)})`), diff((r) => fold(r, rate).fusedAuroc)]);
    rows.push([`${pct(rate, 0)} fused TPR / FPR @${pct(TARGET_FPR, 0)}`, cell(b, (r) => `${pct(fold(r, rate).fusedTpr)} / ${pct(fold(r, rate).fusedFpr)}`), cell(c, (r) => `${pct(fold(r, rate).fusedTpr)} / ${pct(fold(r, rate).fusedFpr)}`), '']);
    rows.push([`${pct(rate, 0)} fused TPR / FPR @${pct(STRICT_FPR, 0)}`, cell(b, (r) => `${pct(fold(r, rate).strict.fusedTpr)} / ${pct(fold(r, rate).strict.fusedFpr)}`), cell(c, (r) => `${pct(fold(r, rate).strict.fusedTpr)} / ${pct(fold(r, rate).strict.fusedFpr)}`), '']);
    rows.push([`${pct(rate, 0)} fused TPR / FPR @${pct(MARGIN_FPR, 0)}`, cell(b, (r) => `${pct(fold(r, rate).margin.fusedTpr)} / ${pct(fold(r, rate).margin.fusedFpr)}`), cell(c, (r) => `${pct(fold(r, rate).margin.fusedTpr)} / ${pct(fold(r, rate).margin.fusedFpr)}`), '']);
    rows.push([`${pct(rate, 0)} fused ROC: TPR / FPR at FPR ≤ ${pct(STRICT_FPR, 0)}`, cell(b, (r) => `${pct(fold(r, rate).roc.fusedTpr)} / ${pct(fold(r, rate).roc.fusedFpr)}`), cell(c, (r) => `${pct(fold(r, rate).roc.fusedTpr)} / ${pct(fold(r, rate).roc.fusedFpr)}`), '']);
    rows.push([`${pct(rate, 0)} decoder alone AUROC, TPR / FPR`, cell(b, (r) => `${f(fold(r, rate).decoderAuroc)}, ${pct(fold(r, rate).decoderTpr)} / ${pct(fold(r, rate).decoderFpr)}`), cell(c, (r) => `${f(fold(r, rate).decoderAuroc)}, ${pct(fold(r, rate).decoderTpr)} / ${pct(fold(r, rate).decoderFpr)}`), '']);
  }
  const gates = (r: EncoderResult): string => [...POISON_RATES, 0].map((rate) => pct(fold(r, rate).gateOpen, 0)).join(' / ');
  rows.push(['collapse gate open: 1% / 5% / 20% / one image', cell(b, gates), cell(c, gates), '']);
  const single = (r: EncoderResult): string => `${f(fold(r, 0).fusedAuroc)}, ${pct(fold(r, 0).fusedTpr)} vs ${f(fold(r, 0).decoderAuroc)}, ${pct(fold(r, 0).decoderTpr)}`;
  rows.push([`one triggered image: fused vs decoder alone (AUROC, TPR @${pct(TARGET_FPR, 0)})`, cell(b, single), cell(c, single), '']);
  const rv = (r: EncoderResult): string => (r.reveal ? (r.reveal.clusters ? `MSE ref ${f(r.reveal.mseReference, 3)} vs min rand ${f(r.reveal.mseRandomMin, 3)} (${r.reveal.randomCloser} closer)` : `no cluster (${r.reveal.flagged} flagged)`) : 'n/a');
  const pk = (r: EncoderResult): string => (r.reveal?.peak ? `(${r.reveal.peak.y}, ${r.reveal.peak.x}) ${r.reveal.peakInPatch ? 'inside' : 'outside'}` : 'n/a');
  const sl = (r: EncoderResult): string => `${pct(r.salted.fpr)} / ${pct(r.salted.strictFpr)} (unsalted ${pct(r.salted.unsaltedFpr)} / ${pct(r.salted.unsaltedStrictFpr)})`;
  const slp = (r: EncoderResult): string => `${pct(r.salted.pooled.fpr)} (unsalted ${pct(r.salted.pooled.unsaltedFpr)})`;
  rows.push([`salted clean folder: fused FPR @${pct(TARGET_FPR, 0)} / @${pct(STRICT_FPR, 0)}`, cell(b, sl), cell(c, sl), '']);
  rows.push([`salted, mean of ${CAL_DRAWS} calibration draws: FPR @${pct(TARGET_FPR, 0)}`, cell(b, slp), cell(c, slp), '']);
  for (const name of AGGREGATE_DIAGNOSTICS.map((a) => a.name)) {
    const ag = (r: EncoderResult): string => f(r.aggregates[name]);
    rows.push([`diagnostic: AUROC of patch errors' ${name}`, cell(b, ag), cell(c, ag), b && c ? f((b.aggregates[name] ?? NaN) - (c.aggregates[name] ?? NaN)) : '']);
  }
  rows.push(['reveal 20%: target vs reference', cell(b, rv), cell(c, rv), '']);
  rows.push(['reveal 20%: trigger-map peak', cell(b, pk), cell(c, pk), '']);
  const dg = (r: EncoderResult): string => (r.reveal?.diagnostics ? `${r.reveal.diagnostics.referenceEmbedding.randomCloser} / ${r.reveal.diagnostics.rawTarget.randomCloser} / ${r.reveal.diagnostics.contrast64.randomCloser}` : 'n/a');
  rows.push(['reveal diag: rand closer, E(ref) / raw / 64-image map', cell(b, dg), cell(c, dg), '']);
  const header = ['metric', 'backdoor', 'control', 'diff'];
  const lines = [table(header, rows)];
  if (through.length > 0) lines.push(table(['scan throughput', 'scan img/s', 'encoder img/s', 'decoder img/s'], through.map((t) => [t.backend, t.scanPerSec.toFixed(0), t.encoderPerSec.toFixed(0), t.decoderPerSec.toFixed(0)])));
  lines.push(`collapse at ${collapse.n} (D ${collapse.dim}, + ${collapse.reference} ref): ${collapse.seconds.toFixed(1)} s, peak RSS ${collapse.peakRssMiB.toFixed(0)} MiB (+${(collapse.peakRssMiB - collapse.rssBeforeMiB).toFixed(0)} MiB over the ${collapse.rssBeforeMiB.toFixed(0)} MiB before the step)`);
  if (parity) lines.push(`parity (${parity.encoder}, ${parity.steps} steps): last-epoch loss TS ${f(parity.ts.lastEpochLoss, 4)} vs torch ${f(parity.torch.lastEpochLoss, 4)} (Δ ${pct(parity.lossRelDiff, 2)}); AUROC robust ${f(parity.ts.aurocScore)} vs ${f(parity.torch.aurocScore)}, dedeScore ${f(parity.ts.aurocDede)} vs ${f(parity.torch.aurocDede)}; largest relative difference of a step's loss ${parity.maxStepLossRelDiff.toExponential(1)}, of an image's score ${parity.maxScoreRelDiff.toExponential(1)}`);

  const checks: { name: string; value: string; pass: boolean }[] = [];
  if (b) {
    checks.push({ name: `robust AUROC backdoor ≥ ${TARGETS.robustAuroc}`, value: f(b.auroc.score), pass: b.auroc.score >= TARGETS.robustAuroc });
    if (c) checks.push({ name: `robust AUROC backdoor − control ≥ ${TARGETS.robustOverControl}`, value: f(b.auroc.score - c.auroc.score), pass: b.auroc.score - c.auroc.score >= TARGETS.robustOverControl });
    for (const rate of [0.05, 0.2]) {
      const m = fold(b, rate);
      checks.push({ name: `${pct(rate, 0)}: fused AUROC ≥ ${TARGETS.fusedAuroc}`, value: f(m.fusedAuroc), pass: m.fusedAuroc >= TARGETS.fusedAuroc });
      // The calibrated verdict at α = 2%: conformal calibration bounds the FPR in expectation, so at
      // α = 3% one clean draw lands above 3% about half the time (that point is in the table).
      for (const op of [{ alpha: MARGIN_FPR, tpr: m.margin.fusedTpr, fpr: m.margin.fusedFpr }])
        checks.push({ name: `${pct(rate, 0)}: fused TPR ≥ ${pct(TARGETS.fusedTpr, 0)} at realised FPR ≤ ${pct(TARGETS.fusedFpr, 0)} (α ${pct(op.alpha, 0)})`, value: `${pct(op.tpr)} at ${pct(op.fpr)}`, pass: op.tpr >= TARGETS.fusedTpr && op.fpr <= TARGETS.fusedFpr });
      checks.push({ name: `${pct(rate, 0)}: fused ROC TPR ≥ ${pct(TARGETS.fusedTpr, 0)} at realised FPR ≤ ${pct(TARGETS.fusedFpr, 0)} (best threshold per folder)`, value: `${pct(m.roc.fusedTpr)} at ${pct(m.roc.fusedFpr)}`, pass: m.roc.fusedTpr >= TARGETS.fusedTpr && m.roc.fusedFpr <= TARGETS.fusedFpr });
    }
    for (const rate of [0.01, 0]) {
      const m1 = fold(b, rate);
      const label = rate === 0 ? `one triggered image (${m1.reps} folders)` : '1%';
      // The fused score ranks by conformal p-values, which tie images between two clean reference scores.
      checks.push({ name: `${label}: fused AUROC ≥ decoder score alone (− ${TIE_SLACK} for p-value ties)`, value: `${f(m1.fusedAuroc, 4)} vs ${f(m1.decoderAuroc, 4)}`, pass: m1.fusedAuroc >= m1.decoderAuroc - TIE_SLACK });
      checks.push({ name: `${label}: fused TPR ≥ decoder alone (same α)`, value: `${pct(m1.fusedTpr)} vs ${pct(m1.decoderTpr)}`, pass: m1.fusedTpr >= m1.decoderTpr });
    }
    if (b.reveal) {
      checks.push({ name: `reveal: target closer to the reference than to all ${RANDOM_CLEAN} random clean`, value: `${f(b.reveal.mseReference, 4)} vs min ${f(b.reveal.mseRandomMin, 4)}`, pass: b.reveal.closerThanAll });
      checks.push({ name: 'reveal: trigger-map peak inside the stamped patch', value: b.reveal.peak ? `(${b.reveal.peak.y}, ${b.reveal.peak.x})` : 'none', pass: b.reveal.peakInPatch === true });
    }
  }
  for (const r of [b, c]) {
    if (!r) continue;
    // At the target FPR; the strict point is reported above (Bonferroni is conservative there).
    checks.push({ name: `${r.name}: salted clean folder, realised FPR within 1 point of ${pct(TARGET_FPR, 0)} (mean of ${CAL_DRAWS} calibration draws)`, value: pct(r.salted.pooled.fpr), pass: Math.abs(r.salted.pooled.fpr - TARGET_FPR) <= 0.01 });
  }
  if (c) for (const rate of POISON_RATES) checks.push({ name: `control ${pct(rate, 0)}: fused AUROC ≤ ${TARGETS.controlFused}`, value: f(fold(c, rate).fusedAuroc), pass: fold(c, rate).fusedAuroc <= TARGETS.controlFused });
  if (parity) {
    checks.push({ name: `parity: last-epoch loss within ${pct(TARGETS.parityLoss, 0)}`, value: pct(parity.lossRelDiff, 2), pass: parity.lossRelDiff <= TARGETS.parityLoss });
    checks.push({ name: `parity: AUROCs within ${TARGETS.parityAuroc}`, value: `${f(parity.aurocScoreDiff)}, ${f(parity.aurocDedeDiff)}`, pass: parity.aurocScoreDiff <= TARGETS.parityAuroc && parity.aurocDedeDiff <= TARGETS.parityAuroc });
  }
  lines.push(table(['target', 'measured', 'result'], checks.map((x) => [x.name, x.value, ok(x.pass)])));
  const title = `\n== Summary (SMALL decoder, ${budgetText(args.budget)} per training, target FPR ${pct(TARGET_FPR, 0)}${missing.length ? `; MISSING: ${missing.join(', ')}` : ''})`;
  const text = lines.join('\n\n');
  log(`${title}\n${text}`);
  return { table: text, checks };
}

main().then(
  () => process.exit(0), // ORT web's WASM worker threads would keep the process alive
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
