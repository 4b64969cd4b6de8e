// What the bench measures per encoder: the per-image score sets and aggregate diagnostics, the
// salted-folder FPR over calibration draws, and the result types the summary reads.
import { auroc, type ContentComponents, gatherRows, mulberry32, type Rows, scoreFolderSet } from '../../src/core/dede';
import { permutation } from '../../src/core/dede/rng';
import { concat, concatF32, labels } from './common';
import type { FolderInputs } from './folders';
import { type EncoderName, SALT, STRICT_FPR, TARGET_FPR, type TriggerName } from './settings';

export interface Normalised {
  readonly train: Float32Array;
  readonly cal: Float32Array;
  readonly testClean: Float32Array;
  readonly testTrig: Float32Array;
  readonly randomClean: Float32Array;
  readonly reference: Float32Array;
  readonly salted: Float32Array;
}

import type { SeenAsMetrics } from './seen-as';

export interface Embedded {
  readonly dim: number;
  readonly train: Float32Array;
  readonly cal: Float32Array;
  readonly testClean: Float32Array;
  readonly testTrig: Float32Array;
  /** [1, D] the attacker's reference image. */
  readonly reference: Float32Array;
  readonly salted: Float32Array;
}

export interface RawScores {
  /** The content score's components (src/core/dede/content-score.ts). */
  readonly components: readonly ContentComponents[];
  /** The median patch error (the decoderScore before issue 16) and the paper's dedeScore. */
  readonly median: Float64Array;
  readonly dedeScore: Float64Array;
  /** Per image, the masked patches' errors (for the aggregate diagnostics). */
  readonly patchErrors: readonly Float32Array[];
}

export interface SetScores extends RawScores {
  /** decoderScore: the content score on the calibration images' scale. */
  readonly score: Float64Array;
}

/** Candidate per-image aggregates of the patch errors, reported side by side (diagnostics, not targets). */
export const AGGREGATE_DIAGNOSTICS: readonly { readonly name: string; readonly of: (e: Float64Array) => number }[] = [
  { name: 'mean', of: (e) => e.reduce((a, x) => a + x, 0) / e.length },
  { name: 'trimmed mean 10%', of: (e) => sortedMean(e, 0.1, 0.1) },
  { name: 'trimmed mean 25%', of: (e) => sortedMean(e, 0.25, 0.25) },
  { name: 'median', of: (e) => quantileOf(e, 0.5) },
  { name: 'quantile 0.35', of: (e) => quantileOf(e, 0.35) },
  { name: 'quantile 0.2', of: (e) => quantileOf(e, 0.2) },
  { name: 'lower-half mean', of: (e) => sortedMean(e, 0, 0.5) },
];

export function sortedMean(e: Float64Array, low: number, high: number): number {
  const s = Float64Array.from(e).sort();
  const a = Math.floor(low * s.length);
  const b = s.length - Math.floor(high * s.length);
  let t = 0;
  for (let i = a; i < b; i++) t += s[i] as number;
  return t / Math.max(1, b - a);
}

export function quantileOf(e: Float64Array, q: number): number {
  const s = Float64Array.from(e).sort();
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

export function aggregateAurocs(clean: SetScores, trig: SetScores): Record<string, number> {
  const lab = labels(clean.patchErrors.length, trig.patchErrors.length);
  const finite = (e: Float32Array) => Float64Array.from(e).filter((x) => Number.isFinite(x));
  return Object.fromEntries(
    AGGREGATE_DIAGNOSTICS.map((a) => [a.name, auroc([...clean.patchErrors, ...trig.patchErrors].map((e) => a.of(finite(e))), lab)]),
  );
}

export interface FolderMetrics {
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
  /** The same at a realised FPR ≤ TARGET_FPR. */
  readonly roc5: { readonly maxFpr: number; readonly fusedTpr: number; readonly fusedFpr: number };
  /** The fused verdict calibrated at MARGIN_FPR. */
  readonly margin: { readonly alpha: number; readonly fusedTpr: number; readonly fusedFpr: number };
  /** Share of the folders whose collapse gate opened (the gate does not depend on α). */
  readonly gateOpen: number;
}

export interface SaltedMetrics {
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

export const CAL_DRAWS = 20;
export const TIE_SLACK = 0.002;
export const CAL_DRAW_SIZE = 200;

export function saltedMetrics(x: FolderInputs, saltedEmb: Float32Array, saltedFp: Rows, saltedScores: SetScores): SaltedMetrics {
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
    const pick = permutation(nCal, mulberry32(9000 + r)).slice(0, CAL_DRAW_SIZE);
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

export interface RevealMetrics {
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

export interface EncoderResult {
  readonly name: EncoderName;
  /** The trigger stamped on test_triggered (bench/detect/fixtures.ts). */
  readonly trigger: TriggerName;
  readonly about: string;
  readonly path: string;
  readonly sha256: string;
  readonly modified: string;
  readonly embedDim: number;
  readonly train: { readonly seconds: number; readonly steps: number; readonly epochs: number; readonly finalLoss: number; readonly lastEpochLoss: number; readonly stoppedBy: string };
  /** Per-image AUROC of decoderScore (`score`) and of the paper's dedeScore on test_clean vs test_triggered. */
  readonly auroc: { readonly score: number; readonly dedeScore: number; readonly median: number; readonly components: Record<string, number> };
  /** decoderScore's ROC at a realised FPR ≤ STRICT_FPR and ≤ TARGET_FPR (best threshold, no calibration). */
  readonly perImageRoc: { readonly strict: { readonly tpr: number; readonly fpr: number }; readonly target: { readonly tpr: number; readonly fpr: number } };
  /** AUROC of other aggregates of the same patch errors (diagnostics for choosing the robust score). */
  readonly aggregates: Record<string, number>;
  readonly calibration: Record<'score' | 'dedeScore', { readonly threshold: number; readonly tpr: number; readonly fpr: number; readonly targetFpr: number }>;
  readonly folders: FolderMetrics[];
  /** test_clean salted with duplicates: the fused verdict's realised FPR (all images clean). */
  readonly salted: SaltedMetrics;
  readonly reveal: RevealMetrics | null;
  /** Reveal by example on the 20% folder (absent in results from before it). */
  readonly seenAs?: SeenAsMetrics | null;
}
