// The bench's summary: one column per (fixture encoder, trigger), the issue's targets checked.
import { passFail as ok, percent as pct, table } from '../lib/format';
import type { CollapseBench } from './collapse';
import { f } from './common';
import { AGGREGATE_DIAGNOSTICS, CAL_DRAWS, type EncoderResult, type FolderMetrics, TIE_SLACK } from './metrics';
import type { ParityResult } from './parity';
import { type Budget, budgetText, MARGIN_FPR, POISON_RATES, RANDOM_CLEAN, STRICT_FPR, TARGET_FPR, TARGETS } from './settings';
import type { Throughput } from './throughput';

export interface Check {
  readonly name: string;
  readonly value: string;
  readonly pass: boolean;
}

const label = (r: EncoderResult): string => (r.name === 'control' ? `control/${r.trigger}` : r.name);
const fold = (r: EncoderResult, rate: number): FolderMetrics => r.folders.find((x) => x.rate === rate) as FolderMetrics;
const rateName = (rate: number): string => (rate === 0 ? 'one image' : pct(rate, 0));
const at = (tpr: number, fpr: number): string => `${pct(tpr)} / ${pct(fpr)}`;

export function printSummary(results: readonly EncoderResult[], through: readonly Throughput[], collapse: CollapseBench, parity: ParityResult | null, budget: Budget, missing: readonly string[]): { table: string; checks: Check[] } {
  const row = (name: string, get: (r: EncoderResult) => string): string[] => [name, ...results.map(get)];
  const rows: string[][] = [
    row('train time s / steps / epochs', (r) => `${r.train.seconds.toFixed(0)} / ${r.train.steps} / ${r.train.epochs.toFixed(1)}`),
    row('per-image AUROC decoderScore', (r) => f(r.auroc.score)),
    row('per-image AUROC dedeScore (paper)', (r) => f(r.auroc.dedeScore)),
    row('per-image AUROC median patch error (before)', (r) => f(r.auroc.median)),
    row('component AUROC semantic / lowPass / flip |z|', (r) => `${f(r.auroc.components.semantic)} / ${f(r.auroc.components.lowPass)} / ${f(r.auroc.components['flip |z|'])}`),
    row(`per-image ROC: TPR / FPR at FPR ≤ ${pct(STRICT_FPR, 0)}`, (r) => at(r.perImageRoc.strict.tpr, r.perImageRoc.strict.fpr)),
    row(`per-image ROC: TPR / FPR at FPR ≤ ${pct(TARGET_FPR, 0)}`, (r) => at(r.perImageRoc.target.tpr, r.perImageRoc.target.fpr)),
    row(`decoderScore calibrated @${pct(TARGET_FPR, 0)}: TPR / FPR`, (r) => at(r.calibration.score.tpr, r.calibration.score.fpr)),
  ];
  for (const rate of [...POISON_RATES, 0]) {
    rows.push(row(`${rateName(rate)}: fused AUROC (min)`, (r) => `${f(fold(r, rate).fusedAuroc)} (${f(fold(r, rate).fusedAurocMin)})`));
    rows.push(row(`${rateName(rate)}: fused ROC TPR / FPR at FPR ≤ ${pct(STRICT_FPR, 0)}`, (r) => at(fold(r, rate).roc.fusedTpr, fold(r, rate).roc.fusedFpr)));
    rows.push(row(`${rateName(rate)}: fused ROC TPR / FPR at FPR ≤ ${pct(TARGET_FPR, 0)}`, (r) => at(fold(r, rate).roc5.fusedTpr, fold(r, rate).roc5.fusedFpr)));
    rows.push(row(`${rateName(rate)}: fused calibrated @${pct(TARGET_FPR, 0)}: TPR / FPR`, (r) => at(fold(r, rate).fusedTpr, fold(r, rate).fusedFpr)));
    rows.push(row(`${rateName(rate)}: fused calibrated @${pct(STRICT_FPR, 0)}: TPR / FPR`, (r) => at(fold(r, rate).strict.fusedTpr, fold(r, rate).strict.fusedFpr)));
    rows.push(row(`${rateName(rate)}: decoder alone AUROC, TPR / FPR @${pct(TARGET_FPR, 0)}`, (r) => `${f(fold(r, rate).decoderAuroc)}, ${at(fold(r, rate).decoderTpr, fold(r, rate).decoderFpr)}`));
    rows.push(row(`${rateName(rate)}: collapse gate open (share of folders)`, (r) => pct(fold(r, rate).gateOpen, 0)));
  }
  rows.push(row(`salted clean folder, mean of ${CAL_DRAWS} draws: FPR @${pct(TARGET_FPR, 0)}`, (r) => `${pct(r.salted.pooled.fpr)} (unsalted ${pct(r.salted.pooled.unsaltedFpr)})`));
  for (const a of AGGREGATE_DIAGNOSTICS) rows.push(row(`diagnostic: AUROC of patch errors' ${a.name}`, (r) => f(r.aggregates[a.name])));
  rows.push(row('reveal by example 20%: seen as (shown / nearest of reference class)', (r) => (r.seenAs?.topLabel ? `${r.seenAs.topLabel} (${r.seenAs.shownOfReference}/5, ${r.seenAs.nearestOfReference}/5)` : r.seenAs ? `no cluster (${r.seenAs.flagged} flagged)` : '—')));
  const b = results.find((r) => r.name === 'backdoor');
  if (b?.reveal) {
    const rv = b.reveal;
    rows.push(['reveal 20% (backdoor): target vs reference', rv.clusters ? `MSE ref ${f(rv.mseReference, 3)} vs min rand ${f(rv.mseRandomMin, 3)} (${rv.randomCloser} closer)` : `no cluster (${rv.flagged} flagged)`, ...results.slice(1).map(() => '')]);
  }
  const lines = [table(['metric', ...results.map(label)], rows)];
  if (through.length > 0) lines.push(table(['scan throughput', 'scan img/s', 'encoder img/s', 'decoder img/s'], through.map((t) => [t.backend, t.scanPerSec.toFixed(0), t.encoderPerSec.toFixed(0), t.decoderPerSec.toFixed(0)])));
  lines.push(`collapse at ${collapse.n} (D ${collapse.dim}, + ${collapse.reference} ref): ${collapse.seconds.toFixed(1)} s, peak RSS ${collapse.peakRssMiB.toFixed(0)} MiB (+${(collapse.peakRssMiB - collapse.rssBeforeMiB).toFixed(0)} MiB over the ${collapse.rssBeforeMiB.toFixed(0)} MiB before the step)`);
  if (parity) lines.push(`parity (${parity.encoder}, ${parity.steps} steps): last-epoch loss TS ${f(parity.ts.lastEpochLoss, 4)} vs torch ${f(parity.torch.lastEpochLoss, 4)} (Δ ${pct(parity.lossRelDiff, 2)}); AUROC robust ${f(parity.ts.aurocScore)} vs ${f(parity.torch.aurocScore)}, dedeScore ${f(parity.ts.aurocDede)} vs ${f(parity.torch.aurocDede)}`);
  const checks = targetChecks(results, parity);
  lines.push(table(['target', 'measured', 'result'], checks.map((x) => [x.name, x.value, ok(x.pass)])));
  const title = `\n== Summary (SMALL decoder, ${budgetText(budget)} per training, target FPR ${pct(TARGET_FPR, 0)}${missing.length ? `; MISSING: ${missing.join(', ')}` : ''})`;
  const text = lines.join('\n\n');
  console.log(`${title}\n${text}`);
  return { table: text, checks };
}

function targetChecks(results: readonly EncoderResult[], parity: ParityResult | null): Check[] {
  const checks: Check[] = [];
  for (const r of results) {
    // Issue 16: the per-image score alone, on photos the decoder and calibration never saw.
    const want = r.name === 'control' ? TARGETS.controlPerImage : r.trigger === 'patch' ? TARGETS.perImagePatch : TARGETS.perImageGlobal;
    const pass = r.name === 'control' ? r.auroc.score <= want : r.auroc.score >= want;
    checks.push({ name: `${label(r)}: per-image AUROC ${r.name === 'control' ? '≤' : '≥'} ${want}`, value: f(r.auroc.score), pass });
    if (r.name !== 'control') {
      for (const rate of [0.01, 0]) {
        const m = fold(r, rate);
        const what = rate === 0 ? `one triggered image (${m.reps} folders)` : '1%';
        // The fused score ranks by conformal p-values, which tie images between two clean reference scores.
        checks.push({ name: `${label(r)} ${what}: fused AUROC ≥ decoder score alone (− ${TIE_SLACK} for p-value ties)`, value: `${f(m.fusedAuroc, 4)} vs ${f(m.decoderAuroc, 4)}`, pass: m.fusedAuroc >= m.decoderAuroc - TIE_SLACK });
        checks.push({ name: `${label(r)} ${what}: fused TPR ≥ decoder alone (same α)`, value: `${pct(m.fusedTpr)} vs ${pct(m.decoderTpr)}`, pass: m.fusedTpr >= m.decoderTpr });
      }
    }
    checks.push({ name: `${label(r)}: salted clean folder, realised FPR within 1 point of ${pct(TARGET_FPR, 0)} (mean of ${CAL_DRAWS} draws)`, value: pct(r.salted.pooled.fpr), pass: Math.abs(r.salted.pooled.fpr - TARGET_FPR) <= 0.01 });
    if (r.name === 'control') for (const rate of POISON_RATES) checks.push({ name: `${label(r)} ${pct(rate, 0)}: fused AUROC ≤ ${TARGETS.controlFused}`, value: f(fold(r, rate).fusedAuroc), pass: fold(r, rate).fusedAuroc <= TARGETS.controlFused });
  }
  const d = results.find((r) => r.name === 'drupe');
  if (d) {
    const m = fold(d, 0.05);
    checks.push({ name: `drupe 5%: fused AUROC ≥ ${TARGETS.drupeFusedAuroc} (gate open in ${pct(m.gateOpen, 0)} of folders)`, value: f(m.fusedAuroc), pass: m.fusedAuroc >= TARGETS.drupeFusedAuroc });
    checks.push({ name: `drupe 5%: fused TPR ≥ ${pct(TARGETS.drupeFusedTpr, 0)} at realised FPR ≤ ${pct(TARGET_FPR, 0)} (calibrated at α ${pct(TARGET_FPR, 0)})`, value: at(m.fusedTpr, m.fusedFpr), pass: m.fusedTpr >= TARGETS.drupeFusedTpr && m.fusedFpr <= TARGET_FPR });
  }
  const b = results.find((r) => r.name === 'backdoor');
  if (b) {
    for (const rate of [0.05, 0.2]) {
      const m = fold(b, rate);
      checks.push({ name: `backdoor ${pct(rate, 0)}: fused AUROC ≥ ${TARGETS.fusedAuroc}`, value: f(m.fusedAuroc), pass: m.fusedAuroc >= TARGETS.fusedAuroc });
      // At α = 2%: conformal calibration bounds the FPR in expectation, so at α = 3% one clean draw lands above 3% about half the time.
      checks.push({ name: `backdoor ${pct(rate, 0)}: fused TPR ≥ ${pct(TARGETS.fusedTpr, 0)} at realised FPR ≤ ${pct(TARGETS.fusedFpr, 0)} (α ${pct(MARGIN_FPR, 0)})`, value: at(m.margin.fusedTpr, m.margin.fusedFpr), pass: m.margin.fusedTpr >= TARGETS.fusedTpr && m.margin.fusedFpr <= TARGETS.fusedFpr });
    }
    if (b.seenAs) {
      const s = b.seenAs;
      checks.push({ name: `reveal by example: the cluster is seen as "${s.referenceClass}", ≥ 4 of its 5 shown photos of that class`, value: `"${s.topLabel}", ${s.shownOfReference}/5 (nearest of any class ${s.nearestOfReference}/5)`, pass: s.topLabel === s.referenceClass && s.shownOfReference >= 4 });
    }
    if (b.reveal) {
      checks.push({ name: `reveal: target closer to the reference than to all ${RANDOM_CLEAN} random clean`, value: `${f(b.reveal.mseReference, 4)} vs min ${f(b.reveal.mseRandomMin, 4)}`, pass: b.reveal.closerThanAll });
      checks.push({ name: 'reveal: trigger-map peak inside the stamped patch', value: b.reveal.peak ? `(${b.reveal.peak.y}, ${b.reveal.peak.x})` : 'none', pass: b.reveal.peakInPatch === true });
    }
  }
  if (parity) {
    checks.push({ name: `parity: last-epoch loss within ${pct(TARGETS.parityLoss, 0)}`, value: pct(parity.lossRelDiff, 2), pass: parity.lossRelDiff <= TARGETS.parityLoss });
    checks.push({ name: `parity: AUROCs within ${TARGETS.parityAuroc}`, value: `${f(parity.aurocScoreDiff)}, ${f(parity.aurocDedeDiff)}`, pass: parity.aurocScoreDiff <= TARGETS.parityAuroc && parity.aurocDedeDiff <= TARGETS.parityAuroc });
  }
  return checks;
}
