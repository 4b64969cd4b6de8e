// One fixture encoder's whole run: embed, train, calibrate, then per trigger: score, fold, reveal.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { CliEncoder } from '../../src/cli/encoder';
import { auroc, calibrate, confusionAt, CONTENT_COMPONENTS, type ContentComponent, type ContentScale, ContentScorer, contentZ, fitContentScale, type Rows, tprAtFpr, type DecoderConfig, type DecoderWeights, presetConfig, realisedFpr, Scorer } from '../../src/core/dede';
import { EncoderRunner } from '../../src/core/dede/encoder-runner';
import type { Runtime } from '../../src/core/runtime/session';
import { percent as pct } from '../lib/format';
import { concat, f, labels, log, writeF32 } from './common';
import { type Data, fingerprints, normalise, PIXELS } from './data';
import { type FolderInputs, folderMetrics, folderPlans, rateLabel } from './folders';
import { aggregateAurocs, CAL_DRAW_SIZE, CAL_DRAWS, type Embedded, type EncoderResult, type FolderMetrics, type Normalised, type RevealMetrics, saltedMetrics, type SetScores } from './metrics';
import { exportParity } from './parity';
import { revealOn } from './reveal';
import { seenAsOn, type SeenAsMetrics } from './seen-as';
import { applyTrigger, type TriggerFn } from './fixtures';
import { type Args, BATCH, type Budget, type Fixture, MARGIN_FPR, presetOf, type Recipe, STRICT_FPR, TARGET_FPR, type TriggerName } from './settings';
import { embedAll, lastEpochLoss, scoreRaw, trainOrReuse, withScale } from './training';

export async function runEncoder(
  rt: Runtime,
  fixture: Fixture,
  encoder: CliEncoder,
  data: Data,
  triggers: Readonly<Record<TriggerName, TriggerFn>>,
  budget: Budget,
  recipe: Recipe,
  reuse: boolean,
  parityDir: string | null,
  preset: Args['preset'],
): Promise<{ results: EncoderResult[]; cfg: DecoderConfig; weights: DecoderWeights; norm: Normalised; emb: Embedded; encoder: CliEncoder }> {
  const name = fixture.name;
  const p = encoder.preprocessing;
  const first = fixture.triggers[0] as TriggerName;
  const norm: Normalised = {
    train: normalise(data.train, p),
    cal: normalise(data.cal, p),
    testClean: normalise(data.testClean, p),
    testTrig: normalise(applyTrigger(data.testTrigPhotos, triggers[first]), p),
    randomClean: normalise(data.randomClean, p),
    reference: normalise(data.reference, p),
    salted: normalise(data.salted, p),
  };
  const t0 = performance.now();
  const runner = await EncoderRunner.create(rt, encoder.spec, 64);
  try {
    const emb = await embedAll(runner, norm);
    log(`  [${name}] embedded ${(norm.train.length + norm.cal.length + norm.testClean.length + norm.testTrig.length) / PIXELS} images (D = ${emb.dim}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const cfg = presetConfig(presetOf({ preset }), emb.dim);
    const tr = await trainOrReuse(rt, encoder.sha256, cfg, norm, emb, budget, recipe, reuse, name);
    const perEpoch = Math.floor(data.train.files.length / BATCH);
    const finalLoss = tr.losses.at(-1)?.loss ?? NaN;
    const trainInfo = { seconds: tr.elapsedSeconds, steps: tr.steps, epochs: tr.epochs, finalLoss, lastEpochLoss: lastEpochLoss(tr, perEpoch), stoppedBy: tr.stoppedBy };
    log(`  [${name}] trained ${trainInfo.seconds.toFixed(1)} s: ${tr.steps} steps, ${tr.epochs.toFixed(2)} epochs, final loss ${f(finalLoss, 4)} (last-epoch mean ${f(trainInfo.lastEpochLoss, 4)}), stopped by ${tr.stoppedBy}`);
    if (parityDir && tr.full) exportParity(parityDir, cfg, recipe, norm, emb, tr.full, data.train.files.length);

    const content = await ContentScorer.create(rt, cfg, tr.weights, encoder.spec, { batch: 64 });
    const scorer = content.scorer;
    try {
      const calRaw = await scoreRaw(content, norm.cal, emb.cal);
      // The content score's clean scale is fitted on the calibration images, as `dede calibrate` does.
      const scale = fitContentScale(calRaw.components);
      const cal = withScale(calRaw, scale);
      const clean = withScale(await scoreRaw(content, norm.testClean, emb.testClean), scale);
      const salted = withScale(await scoreRaw(content, norm.salted, emb.salted), scale);
      const results: EncoderResult[] = [];
      for (const trigger of fixture.triggers) {
        const trigRgb = applyTrigger(data.testTrigPhotos, triggers[trigger]);
        const tn: Normalised = trigger === first ? norm : { ...norm, testTrig: normalise(trigRgb, p) };
        const te: Embedded = trigger === first ? emb : { ...emb, testTrig: (await runner.embed(tn.testTrig, tn.testTrig.length / PIXELS)).data };
        const trig = withScale(await scoreRaw(content, tn.testTrig, te.testTrig), scale);
        const common = { name, trigger, about: fixture.about, path: encoder.path, sha256: encoder.sha256, modified: statSync(encoder.path).mtime.toISOString(), embedDim: emb.dim, train: trainInfo };
        const body = await triggerRun(rt, cfg, tr.weights, scorer, data, tn, te, { cal, clean, trig, salted }, fingerprints(trigRgb), `${name}/${trigger}`, parityDir, p, name === 'backdoor' && trigger === 'patch', scale);
        results.push({ ...common, ...body });
      }
      return { results, cfg, weights: tr.weights, norm, emb, encoder };
    } finally {
      await content.dispose();
    }
  } finally {
    await runner.dispose();
  }
}

type TriggerRun = Omit<EncoderResult, 'name' | 'trigger' | 'about' | 'path' | 'sha256' | 'modified' | 'embedDim' | 'train'>;

/** Per-image and folder metrics of one (encoder, trigger): calibration, poisoned folders, reveal. */
async function triggerRun(
  rt: Runtime,
  cfg: DecoderConfig,
  weights: DecoderWeights,
  scorer: Scorer,
  data: Data,
  norm: Normalised,
  emb: Embedded,
  sets: { cal: SetScores; clean: SetScores; trig: SetScores; salted: SetScores },
  fpTrig: Rows,
  name: string,
  parityDir: string | null,
  p: CliEncoder['preprocessing'],
  withReveal: boolean,
  scale: ContentScale,
): Promise<TriggerRun> {
  const { cal, clean, trig } = sets;
  const lab = labels(clean.score.length, trig.score.length);
  if (parityDir) writeF32(join(parityDir, 'ts_scores.f32'), Float32Array.from([...clean.score, ...trig.score, ...clean.dedeScore, ...trig.dedeScore]));
  const both = concat(clean.score, trig.score);
  const component = (k: ContentComponent) => auroc(concat(clean.components.map((c) => c[k]), trig.components.map((c) => c[k])), lab);
  const aur = {
    score: auroc(both, lab),
    dedeScore: auroc(concat(clean.dedeScore, trig.dedeScore), lab),
    median: auroc(concat(clean.median, trig.median), lab),
    // One-sided AUROC of each raw component; the flip enters decoderScore two-sided (|z|).
    components: { ...Object.fromEntries(CONTENT_COMPONENTS.map((k) => [k, component(k)])), 'flip |z|': auroc(concat(clean.components.map((c) => contentZ(c, scale).flip), trig.components.map((c) => contentZ(c, scale).flip)), lab) },
  };
  const roc = { strict: tprAtFpr(both, lab, STRICT_FPR), target: tprAtFpr(both, lab, TARGET_FPR) };
  log(`  [${name}] AUROC test_clean vs test_triggered: decoderScore ${f(aur.score)}, dedeScore ${f(aur.dedeScore)}, median patch error ${f(aur.median)}, components ${Object.entries(aur.components).map(([k, v]) => `${k} ${f(v)}`).join(', ')}; decoderScore ROC: TPR ${pct(roc.strict.tpr)} at FPR ${pct(roc.strict.fpr)} (≤ ${pct(STRICT_FPR, 0)}), ${pct(roc.target.tpr)} at ${pct(roc.target.fpr)} (≤ ${pct(TARGET_FPR, 0)})`);
  const aggregates = aggregateAurocs(clean, trig);
  log(`  [${name}] AUROC by patch-error aggregate (diagnostics): ${Object.entries(aggregates).map(([k, v]) => `${k} ${f(v)}`).join(', ')}`);

  const calibration = {} as EncoderResult['calibration'];
  for (const kind of ['score', 'dedeScore'] as const) {
    const c = calibrate(cal[kind], { method: 'fpr', target: TARGET_FPR }, kind === 'score' ? { kind: 'content', scale } : { kind: 'dedeScore' });
    const conf = confusionAt(concat(clean[kind], trig[kind]), lab, c.threshold);
    const fpr = realisedFpr(c, clean[kind]).fpr;
    calibration[kind] = { threshold: c.threshold, tpr: conf.tpr ?? NaN, fpr, targetFpr: TARGET_FPR };
    log(`  [${name}] calibrated ${kind} on ${cal[kind].length} clean at target FPR ${pct(TARGET_FPR, 0)}: τ ${f(c.threshold, 5)}, TPR ${pct(conf.tpr)}, realised FPR ${pct(fpr)}`);
  }

  const inputs: FolderInputs = {
    emb,
    fpClean: fingerprints(data.testClean),
    fpTrig,
    fpCal: fingerprints(data.cal),
    clean,
    trig,
    cal,
    tau: calibration.score.threshold,
    tauStrict: calibrate(cal.score, { method: 'fpr', target: STRICT_FPR }, { kind: 'content', scale }).threshold,
  };
  const folders: FolderMetrics[] = [];
  let reveal: RevealMetrics | null = null;
  let seenAs: SeenAsMetrics | null = null;
  for (const plan of folderPlans(clean.score.length, trig.score.length)) {
    const { metrics: m, first } = folderMetrics(inputs, plan);
    folders.push(m);
    log(
      `  [${name}] ${rateLabel(plan.rate)} (${plan.poisoned} + ${m.clean} clean, ${m.reps} folders, collapse gate open in ${pct(m.gateOpen, 0)}): fused AUROC ${f(m.fusedAuroc)} (min ${f(m.fusedAurocMin)}), ` +
        `TPR ${pct(m.fusedTpr)} at FPR ${pct(m.fusedFpr)}; decoder alone AUROC ${f(m.decoderAuroc)}, TPR ${pct(m.decoderTpr)} at FPR ${pct(m.decoderFpr)}; collapse alone AUROC ${f(m.collapseAuroc)}; ` +
        `at target ${pct(STRICT_FPR, 0)}: fused TPR ${pct(m.strict.fusedTpr)} at FPR ${pct(m.strict.fusedFpr)}, decoder alone TPR ${pct(m.strict.decoderTpr)} at FPR ${pct(m.strict.decoderFpr)}; ` +
        `fused ROC at realised FPR ≤ ${pct(STRICT_FPR, 0)}: TPR ${pct(m.roc.fusedTpr)} at FPR ${pct(m.roc.fusedFpr)}, ≤ ${pct(TARGET_FPR, 0)}: TPR ${pct(m.roc5.fusedTpr)} at FPR ${pct(m.roc5.fusedFpr)}; at target ${pct(MARGIN_FPR, 0)}: fused TPR ${pct(m.margin.fusedTpr)} at FPR ${pct(m.margin.fusedFpr)}`,
    );
    if (plan.rate === 0.2 && first) seenAs = seenAsOn(first, emb, data, name);
    if (withReveal && plan.rate === 0.2 && first) reveal = await revealOn(rt, cfg, weights, scorer, first, plan.reps[0] ?? [], norm, emb, data.splits.trigger, name.split('/')[0] ?? name, p);
  }
  const salted = saltedMetrics(inputs, emb.salted, fingerprints(data.salted), sets.salted);
  log(
    `  [${name}] clean folder salted with ${data.salted.files.length} duplicates (${salted.images} images): fused realised FPR ${pct(salted.fpr)} at target ${pct(TARGET_FPR, 0)} ` +
      `(unsalted ${pct(salted.unsaltedFpr)}), ${pct(salted.strictFpr)} at ${pct(STRICT_FPR, 0)} (unsalted ${pct(salted.unsaltedStrictFpr)}); ` +
      `over ${CAL_DRAWS} draws of ${CAL_DRAW_SIZE} calibration images: ${pct(salted.pooled.fpr)} at ${pct(TARGET_FPR, 0)} (unsalted ${pct(salted.pooled.unsaltedFpr)})`,
  );
  return { auroc: aur, perImageRoc: roc, aggregates, calibration, folders, salted, reveal, seenAs };
}
