// npm run bench:converge [-- --epochs 50] [--only backdoor,drupe] [--augment 700] [--every 4]
//
// Choosing the convergence rule's tolerance (docs/ARCHITECTURE.md §8.5). Per bench:detect fixture
// encoder: one training of the full epoch budget with the held-back loss measured at every epoch end
// (128 of the 300 calibration photos, as the app holds back its calibration split), weights kept at
// the epoch each candidate tolerance would stop at; then the per-image AUROC of decoderScore (the
// content score, its scale fitted on the calibration photos) on test_clean vs test_triggered with
// the fixture's first trigger, for every stop and for the full budget. The rule must keep the AUROC
// within 0.005 of the full budget. --augment K adds K augmented copies of the training photos
// (mirrored, shifted, brightened, as bench:browser's clean folder: its 1,500 training images take
// more steps per epoch); --every E also scores the decoder every E epochs from the rule's minimum,
// the AUROC-by-epoch curve. Results: bench/results/converge-<date>[-only][-augK].json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadCliEncoder } from '../src/cli/encoder';
import { auroc, ContentScorer, DEFAULT_TRAINING, fitContentScale, initDecoderWeights, presetConfig, trainDecoder, type DecoderWeights } from '../src/core/dede';
import { checkConvergence, DEFAULT_CONVERGENCE, HELD_BACK_SAMPLE, heldBackPoint, heldBackSample, heldBackScorer, type ConvergenceRule, type HeldBackPoint } from '../src/core/dede/convergence';
import { EncoderRunner } from '../src/core/dede/encoder-runner';
import { table } from './lib/format';
import { augment } from './lib/scale-folders';
import { flagValue } from './lib/args';
import { concat, f, labels, log, nativeRuntime } from './detect/common';
import { loadData, normalise, PIXELS, type RgbSet } from './detect/data';
import { applyTrigger, loadTriggers } from './detect/fixtures';
import { ENCODERS, presetOf, SEED } from './detect/settings';
import { embedAll, scoreRaw, trainingData, withScale } from './detect/training';

const TOLERANCES = [0.005, 0.01, 0.02, 0.05];
const argv = process.argv.slice(2);
const epochs = Number(flagValue(argv, 'epochs') ?? DEFAULT_TRAINING.epochs ?? 50);
const only = flagValue(argv, 'only')?.split(',') ?? null;
const extra = Number(flagValue(argv, 'augment') ?? 0);
const every = Number(flagValue(argv, 'every') ?? 0);
const rules: ConvergenceRule[] = TOLERANCES.map((tolerance) => ({ ...DEFAULT_CONVERGENCE, tolerance }));

interface FixtureResult {
  readonly name: string;
  readonly trigger: string;
  readonly heldBack: readonly { epoch: number; loss: number; quantile: number }[];
  readonly full: { readonly epochs: number; readonly auroc: number };
  readonly stops: readonly { readonly tolerance: number; readonly epoch: number | null; readonly auroc: number | null; readonly diff: number | null }[];
  /** AUROC every `every` epochs (--every). */
  readonly curve: readonly { readonly epoch: number; readonly auroc: number }[];
  readonly trainImages: number;
  readonly seconds: number;
}

async function main(): Promise<void> {
  const rt = nativeRuntime();
  const loaded = await loadData();
  const data = extra > 0 ? { ...loaded, train: withAugmented(loaded.train, extra) } : loaded;
  const triggers = await loadTriggers();
  const results: FixtureResult[] = [];
  for (const fx of ENCODERS.filter((e) => only === null || only.includes(e.name))) {
    const t0 = performance.now();
    const encoder = await loadCliEncoder(fx.path, {});
    const p = encoder.preprocessing;
    const trigger = fx.triggers[0]!;
    const norm = { train: normalise(data.train, p), cal: normalise(data.cal, p), testClean: normalise(data.testClean, p), testTrig: normalise(applyTrigger(data.testTrigPhotos, triggers[trigger]), p), reference: normalise(data.reference, p), randomClean: new Float32Array(0), salted: new Float32Array(0) };
    const runner = await EncoderRunner.create(rt, encoder.spec, 64);
    const emb = await embedAll(runner, norm);
    await runner.dispose();
    const cfg = presetConfig(presetOf({ preset: 'small' }), emb.dim);
    // The held-back sample: evenly spaced calibration photos, fixed for the whole run (as the app's).
    const pick = heldBackSample(norm.cal.length / PIXELS);
    const hbImages = new Float32Array(pick.length * PIXELS);
    const hbEmb = new Float32Array(pick.length * emb.dim);
    pick.forEach((c, k) => {
      hbImages.set(norm.cal.subarray(c * PIXELS, (c + 1) * PIXELS), k * PIXELS);
      hbEmb.set(emb.cal.subarray(c * emb.dim, (c + 1) * emb.dim), k * emb.dim);
    });
    const score = heldBackScorer(rt, cfg, hbImages, hbEmb);
    const kept = new Map<number, DecoderWeights>();
    const stopAt = new Map<number, number>();
    const points: HeldBackPoint[] = [];
    const tr = await trainDecoder(rt, trainingData(norm.train, emb.train, emb.dim), { ...DEFAULT_TRAINING, cfg, epochs, minutes: null, seed: SEED, readLossEvery: 10, checkpointEvery: 0 }, initDecoderWeights(cfg, SEED), {
      heldBack: async (weights, epoch) => {
        const scores = await score(weights);
        points.push(heldBackPoint(epoch, scores));
        const keep = () => kept.set(epoch, Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, v.slice()])) as DecoderWeights);
        for (const rule of rules) {
          if (!stopAt.has(rule.tolerance) && checkConvergence(points, rule).converged) {
            stopAt.set(rule.tolerance, epoch);
            keep();
          }
        }
        if (every > 0 && epoch >= DEFAULT_CONVERGENCE.minEpochs && (epoch - DEFAULT_CONVERGENCE.minEpochs) % every === 0 && epoch < epochs) keep();
        return scores;
      },
    });
    const aurocOf = async (weights: DecoderWeights) => {
      const content = await ContentScorer.create(rt, cfg, weights, encoder.spec, { batch: 64 });
      try {
        const scale = fitContentScale((await scoreRaw(content, norm.cal, emb.cal)).components);
        const clean = withScale(await scoreRaw(content, norm.testClean, emb.testClean), scale);
        const trig = withScale(await scoreRaw(content, norm.testTrig, emb.testTrig), scale);
        return auroc(concat(clean.score, trig.score), labels(clean.score.length, trig.score.length));
      } finally {
        await content.dispose();
      }
    };
    const full = await aurocOf(tr.weights);
    const byEpoch = new Map<number, number>();
    for (const [epoch, w] of kept) byEpoch.set(epoch, await aurocOf(w));
    const stops = TOLERANCES.map((tolerance) => {
      const epoch = stopAt.get(tolerance) ?? null;
      const a = epoch === null ? null : byEpoch.get(epoch)!;
      return { tolerance, epoch, auroc: a, diff: a === null ? null : a - full };
    });
    const curve = [...byEpoch].sort((a, b) => a[0] - b[0]).map(([epoch, a]) => ({ epoch, auroc: a }));
    const r: FixtureResult = { name: fx.name, trigger, heldBack: points, full: { epochs, auroc: full }, stops, curve, trainImages: norm.train.length / PIXELS, seconds: (performance.now() - t0) / 1000 };
    results.push(r);
    if (curve.length > 0) log(`[${fx.name}/${trigger}] AUROC by epoch: ${curve.map((c) => `${c.epoch}: ${f(c.auroc, 4)}`).join(', ')}, ${epochs}: ${f(full, 4)}`);
    log(`[${fx.name}/${trigger}] ${epochs} epochs: AUROC ${f(full, 4)}; ${stops.map((s) => `tol ${s.tolerance}: ${s.epoch === null ? 'no stop' : `epoch ${s.epoch}, AUROC ${f(s.auroc, 4)} (Δ ${f(s.diff, 4)})`}`).join('; ')} (${r.seconds.toFixed(0)} s; held-back loss ${points.map((x) => f(x.loss, 3)).join(' ')})`);
  }
  console.log(table(['fixture', `AUROC @${epochs}`, ...TOLERANCES.map((t) => `tol ${t}: epoch, AUROC (Δ)`)], results.map((r) => [`${r.name}/${r.trigger}`, f(r.full.auroc, 4), ...r.stops.map((s) => (s.epoch === null ? 'no stop' : `${s.epoch}, ${f(s.auroc, 4)} (${f(s.diff, 4)})`))])));
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/converge-${new Date().toISOString().slice(0, 10)}${only ? `-${only.join('+')}` : ''}${extra > 0 ? `-aug${extra}` : ''}.json`;
  writeFileSync(file, JSON.stringify({ bench: 'npm run bench:converge', epochs, rule: DEFAULT_CONVERGENCE, tolerances: TOLERANCES, heldBackSample: HELD_BACK_SAMPLE, results }, null, 1));
  log(`results: ${file}`);
}

/** The training photos plus `n` augmented copies of them (as bench:browser's clean folder: variant 1 for the first round of copies, 2 for the next…). */
function withAugmented(set: RgbSet, n: number): RgbSet {
  const count = set.files.length;
  const rgb = new Uint8Array((count + n) * PIXELS);
  rgb.set(set.rgb);
  const files = [...set.files];
  for (let v = 0; v < n; v++) {
    const i = v % count;
    const variant = Math.floor(v / count) + 1;
    rgb.set(augment(set.rgb.subarray(i * PIXELS, (i + 1) * PIXELS), variant), (count + v) * PIXELS);
    files.push(`aug${variant}:${set.files[i]!}`);
  }
  return { files, rgb };
}

await main();
