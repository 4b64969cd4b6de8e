// The bench's settings: data paths, fixture encoders, targets, training recipe and budget, and the
// command line.
import { resolve } from 'node:path';
import { DEFAULT_TRAINING, FULL_DECODER, SMALL_DECODER, type TrainingPlan } from '../../src/core/dede';

export const SPLITS_PATH = 'scripts/fixtures/splits.json';
export const DATA_DIR = process.env.DEDE_CIFAR_DIR ?? resolve('..', 'shared', 'data', 'cifar10-train');
// The attack fixtures (scripts/fixtures, public/demo/encoders): each backdoored encoder with its own
// trigger, and the clean encoder as the control under every trigger (a score that reacts to the
// trigger's pixels rather than to a backdoor ranks triggered photos high there too). The control
// first: a backdoored encoder still being produced gets its training time to appear (--wait).
export type TriggerName = 'patch' | 'blend-noise' | 'ctrl-frequency';
export const TRIGGERS: readonly TriggerName[] = ['patch', 'blend-noise', 'ctrl-frequency'];
export interface Fixture {
  /** `control` is the clean encoder; the others are backdoored fine-tunes of it. */
  readonly name: 'control' | 'backdoor' | 'drupe' | 'blend-noise' | 'ctrl-frequency';
  readonly path: string;
  /** The triggers stamped on test_triggered for this encoder (its own; every trigger for the control). */
  readonly triggers: readonly TriggerName[];
  readonly about: string;
}
export const ENCODERS: readonly Fixture[] = [
  { name: 'control', path: 'public/demo/encoders/clean/model.onnx', triggers: TRIGGERS, about: 'clean SimCLR encoder (no backdoor)' },
  { name: 'backdoor', path: 'public/demo/encoders/badencoder/model.onnx', triggers: ['patch'], about: 'BadEncoder, white 10×10 patch' },
  { name: 'drupe', path: 'public/demo/encoders/drupe/model.onnx', triggers: ['patch'], about: 'DRUPE (spread triggered embeddings), white 10×10 patch' },
  { name: 'blend-noise', path: 'public/demo/encoders/blend-noise/model.onnx', triggers: ['blend-noise'], about: 'BadEncoder, alpha-0.2 blended noise' },
  { name: 'ctrl-frequency', path: 'public/demo/encoders/ctrl-frequency/model.onnx', triggers: ['ctrl-frequency'], about: 'BadEncoder, CTRL chroma-DCT trigger' },
];
export type EncoderName = Fixture['name'];
export const THREADS = 2;
export const BATCH = DEFAULT_TRAINING.batchSize; // 64
export const SEED = 0;
export const TARGET_FPR = 0.05;
/** The fused verdict's operating point for the issue's target (TPR ≥ 97% at a realised FPR ≤ 3%): α = 3%. */
export const STRICT_FPR = 0.03;
/**
 * A target FPR below the issue's 3% bound: conformal calibration holds the FPR to α in expectation,
 * so a realised FPR ≤ 3% on one clean draw is likely only with some margin (α = 2%).
 */
export const MARGIN_FPR = 0.02;
export const POISON_RATES = [0.01, 0.05, 0.2] as const;
/** Folders of the clean photos plus one triggered image (FolderMetrics.rate 0 stands for them). */
export const SINGLE_REPS = 40;
export const MAX_REPS = 10;
export const RANDOM_CLEAN = 100;
/** Duplicates salted into a clean folder: exact copies and near copies (JPEG re-save, down-and-up resize). */
export const SALT = { exact: 40, jpeg: 40, resized: 40 } as const;
export const COLLAPSE_N = 20_000;
export const CACHE = 'node_modules/.cache/dede-bench';
export const PYTHON = '/usr/bin/python3';
export const TORCH_SCRIPT = 'scripts/reference/dede_torch.py';
export const TARGETS = {
  /** Issue 16: the per-image score alone on the patch fixture, on the global triggers, and at most this on the clean control. */
  perImagePatch: 0.97,
  perImageGlobal: 0.95,
  controlPerImage: 0.65,
  /** Issue 16: the collapse-evading DRUPE fixture at 5% poison. */
  drupeFusedAuroc: 0.95,
  drupeFusedTpr: 0.85,
  fusedAuroc: 0.99,
  fusedTpr: 0.97,
  fusedFpr: 0.03,
  controlFused: 0.7,
  parityLoss: 0.05,
  parityAuroc: 0.03,
};

/** A training budget: a fixed epoch count (the default: the same decoder whatever the machine's load) or minutes. */
/** The training settings this bench varies (the rest is DEFAULT_TRAINING). */
export type Recipe = Pick<TrainingPlan, 'maskRatio' | 'blindShare'>;
export const recipeText = (r: Recipe): string => `mask ${r.maskRatio}, blind share ${r.blindShare}`;
/**
 * Suffix naming a recipe: for result files, what differs from the default; for decoder cache keys
 * (`absolute`), the mask always and a blind share other than 0, whatever the default.
 */
export const recipeSuffix = (r: Recipe, absolute = false): string => {
  const base = absolute ? { maskRatio: NaN, blindShare: 0 } : DEFAULT_TRAINING;
  return `${r.maskRatio !== base.maskRatio ? `-mask${r.maskRatio}` : ''}${r.blindShare !== base.blindShare ? `-blind${r.blindShare}` : ''}`;
};
export type Budget = { readonly epochs: number; readonly minutes: null } | { readonly epochs: null; readonly minutes: number };
export const budgetText = (b: Budget): string => (b.epochs !== null ? `${b.epochs} epochs` : `${b.minutes} min`);

export interface Args {
  readonly budget: Budget;
  /** How the decoders are trained: mask ratio (docs/ARCHITECTURE.md §5.2: 0.9; scoring stays at 0.99) and blind share. */
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
  /** Decoder preset (docs/ARCHITECTURE.md §5.1: SMALL is the laptop default; FULL is the paper's). */
  readonly preset: 'small' | 'full';
  /** Only these fixtures (default all). */
  readonly only: readonly EncoderName[] | null;
}

export function parseArgs(argv: readonly string[]): Args {
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
  let only: EncoderName[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--collapse-only') collapseOnly = true;
    else if (a === '--preset') {
      const v = argv[++i];
      if (v !== 'small' && v !== 'full') throw new Error(`--preset needs small or full, got ${v}`);
      preset = v;
    } else if (a === '--only') {
      only = (argv[++i] ?? '').split(',').map((v) => {
        const e = ENCODERS.find((x) => x.name === v);
        if (!e) throw new Error(`--only needs a comma-separated list of ${ENCODERS.map((x) => x.name).join(', ')}, got ${v}`);
        return e.name;
      });
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
    } else throw new Error(`unknown argument ${a}; usage: npm run bench:detect [-- --epochs 150 | --minutes 4] [--mask 0.9] [--blind 0] [--reuse-decoders] [--quick] [--parity] [--no-wasm] [--wait MINUTES] [--collapse-only] [--preset small|full] [--only control,backdoor,drupe,blend-noise,ctrl-frequency]`);
  }
  if (minutes !== null && epochs !== null) throw new Error('give --epochs or --minutes, not both');
  if (reuse && parity) throw new Error('--parity replays the training itself; it cannot reuse a decoder');
  if (reuse && minutes !== null) throw new Error('--reuse-decoders needs an epoch budget (a time budget is not reproducible)');
  const budget: Budget = minutes !== null ? { epochs: null, minutes } : { epochs: epochs ?? (quick ? 20 : 150), minutes: null };
  return { budget, recipe: { maskRatio: mask, blindShare: blind }, reuse, quick, parity, wasm, wait, collapseOnly, preset, only };
}


export const presetOf = (a: Pick<Args, 'preset'>) => (a.preset === 'full' ? FULL_DECODER : SMALL_DECODER);
