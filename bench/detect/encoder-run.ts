// One encoder's whole run: embed, train, calibrate, score, fold, reveal.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { CliEncoder } from '../../src/cli/encoder';
import { auroc, calibrate, confusionAt, type DecoderConfig, type DecoderWeights, presetConfig, realisedFpr, Scorer } from '../../src/core/dede';
import { EncoderRunner } from '../../src/core/dede/encoder-runner';
import type { Runtime } from '../../src/core/runtime/session';
import { percent as pct } from '../lib/format';
import { concat, f, labels, log, writeF32 } from './common';
import { type Data, fingerprints, normalise, PIXELS } from './data';
import { type FolderInputs, folderMetrics, folderPlans, rateLabel } from './folders';
import { aggregateAurocs, CAL_DRAW_SIZE, CAL_DRAWS, type Embedded, type EncoderResult, type FolderMetrics, type Normalised, type RevealMetrics, saltedMetrics } from './metrics';
import { exportParity } from './parity';
import { revealOn } from './reveal';
import { type Args, BATCH, type Budget, type EncoderName, MARGIN_FPR, presetOf, type Recipe, STRICT_FPR, TARGET_FPR } from './settings';
import { embedAll, lastEpochLoss, scoreSet, trainOrReuse } from './training';

export async function runEncoder(
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
