// Poisoned folders at the bench's rates (and single-image folders), and their fused set verdicts.
import { auroc, gatherRows, mulberry32, type Rows, scoreFolderSet, tprAtFpr } from '../../src/core/dede';
import { permutation } from '../../src/core/dede/rng';
import { percent as pct } from '../lib/format';
import { concat, concatF32, f, labels } from './common';
import type { Embedded, FolderMetrics, SetScores } from './metrics';
import { MARGIN_FPR, MAX_REPS, POISON_RATES, SINGLE_REPS, STRICT_FPR, TARGET_FPR } from './settings';

export interface FolderPlan {
  readonly rate: number;
  readonly poisoned: number;
  /** Per rep: indices into test_triggered (disjoint within a rate). */
  readonly reps: readonly number[][];
}

export function folderPlans(nClean: number, nTrig: number): FolderPlan[] {
  const perm = permutation(nTrig, mulberry32(4242));
  return POISON_RATES.map((rate): FolderPlan => {
    const poisoned = Math.max(1, Math.round((nClean * rate) / (1 - rate)));
    const reps = Math.min(MAX_REPS, Math.floor(nTrig / poisoned));
    return { rate, poisoned, reps: Array.from({ length: reps }, (_, r) => perm.slice(r * poisoned, (r + 1) * poisoned)) };
  }).concat({ rate: 0, poisoned: 1, reps: Array.from({ length: Math.min(SINGLE_REPS, nTrig) }, (_, r) => perm.slice(r, r + 1)) });
}

export const rateLabel = (rate: number): string => (rate === 0 ? 'one triggered image' : `${pct(rate, 0)} poison`);

export interface FolderInputs {
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

export function buildFolder(x: FolderInputs, trigIdx: readonly number[]) {
  const d = x.emb.dim;
  const nClean = x.clean.score.length;
  const embeddings: Rows = { data: concatF32(x.emb.testClean, gatherRows(x.emb.testTrig, d, trigIdx)), dim: d };
  const fp: Rows = { data: concatF32(x.fpClean.data, gatherRows(x.fpTrig.data, x.fpTrig.dim, trigIdx)), dim: x.fpClean.dim };
  const scores = concat(x.clean.score, trigIdx.map((i) => x.trig.score[i] as number));
  return { embeddings, fingerprints: fp, scores, labels: labels(nClean, trigIdx.length) };
}

export function folderMetrics(x: FolderInputs, plan: FolderPlan) {
  const fused: number[] = [];
  const rocPoints: { tpr: number; fpr: number }[] = [];
  const roc5Points: { tpr: number; fpr: number }[] = [];
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
    roc5Points.push(tprAtFpr(verdict.images.map((v) => v.score), folder.labels, TARGET_FPR));
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
    roc5: { maxFpr: TARGET_FPR, fusedTpr: mean(roc5Points.map((r) => r.tpr)), fusedFpr: mean(roc5Points.map((r) => r.fpr)) },
    margin: { alpha: MARGIN_FPR, fusedTpr: mtp / pos, fusedFpr: mfp / neg },
    gateOpen: gateOpen / plan.reps.length,
  };
  return { metrics, first };
}
