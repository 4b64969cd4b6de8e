// One verdict per scanned image from the per-image DeDe score and the set-level collapse score
// (collapse.ts), each a conformal p-value on clean reference data, fused (fusion.ts) and flagged at
// one target FPR. Pure TS: the caller supplies the embeddings and DeDe scores it already computed.
//
// Default fusion: weighted Bonferroni giving the DeDe p-value 3/4 of α and the collapse p-value 1/4.
// A collapsed (triggered) image is more similar to its neighbours than any clean reference image,
// so its collapse p-value sits at the floor 1/(M+1) and a small share of α suffices (it needs
// M ≥ 4/α − 1 clean reference embeddings, checked); the DeDe score is graded, and its share is what
// a triggered image the backdoor did not collapse is judged by: 3/4 of α instead of 1/2 keeps it
// closer to the DeDe score alone.
//
// Collapse gate: the collapse score takes its share of α only when the folder shows a collapse at
// all; otherwise (a single triggered image, a clean encoder, a clean folder) every image is judged
// by its DeDe p-value at the whole α, exactly as by the per-image score alone. The folder shows a
// collapse when enough images sit beyond every clean reference image on a short-range collapse
// score (gate k = 3: an image with 3 triggered partners at cosine ≈ 0.99 gets there, so 4 triggered
// images in 400 do). Under the null a folder image reaches that floor when it beats the reference's
// maximum, so the count is Beta-binomial(n, 1, M), overdispersed because every image faces the same
// maximum; the gate opens at its (1 − level) quantile (collapseGateThreshold). On the BadEncoder
// fixture (bench:detect) it opens in 9 of 10 folders with 1% poison and all with 5% and 20%, and in
// none of 40 folders with one triggered image nor on the clean-encoder control. Per-image FPR: ≤ α
// in either branch; the gate's choice depends on the collapse scores, so in the worst case a clean
// image's FPR is α + min(level, α/4), and α when its DeDe score is independent of the gate.

import { pValues, rankingPValues } from './calibrate';
import { calibratedCollapseAt, DEFAULT_COLLAPSE_K, rowCount, type CalibratedCollapse, type CollapseSettings, type EmbeddingSet, type Rows } from './collapse';
import { componentReach, DEFAULT_FUSION, flaggedAt, fusePValues, type FusionMethod, type FusionOptions } from './fusion';

export interface FolderSetInput {
  /** [n, d] encoder embeddings of the scanned folder. */
  readonly embeddings: Rows;
  /** [n, f] pixel fingerprints of the folder (collapse.pixelFingerprints); excludes near-duplicates. */
  readonly fingerprints?: Rows;
  /** [n] per-image DeDe scores of the folder (the Scorer's robust `score`, or whichever kind the clean scores are). */
  readonly dedeScores: ArrayLike<number>;
  readonly cleanRef: CleanReference;
}

/**
 * Clean images for calibration. The two parts may be different images and sizes. DeDe scores must
 * come from images the decoder did not train on (held-back); collapse reference images should not
 * also sit in the folder (or fingerprints must be given, which excludes them as near-duplicates).
 */
export interface CleanReference {
  /** [M, d] embeddings of clean images, scored against the folder for the collapse p-values. */
  readonly embeddings: Rows;
  /** [M, f] their fingerprints; required when the folder has fingerprints. */
  readonly fingerprints?: Rows;
  /** DeDe scores of clean held-back images (same kind as FolderSetInput.dedeScores). */
  readonly dedeScores: ArrayLike<number>;
}

/** Shares of α for weighted Bonferroni (see the header). */
export interface SetFusionWeights {
  readonly dede: number;
  readonly collapse: number;
}

export const DEFAULT_SET_WEIGHTS: SetFusionWeights = Object.freeze({ dede: 0.75, collapse: 0.25 });

export interface CollapseGateSettings {
  /** Neighbours of the gate's short-range collapse score. */
  readonly k: number;
  /** How often the gate may open on a clean folder (the Beta-binomial tail it is set at). */
  readonly level: number;
}

export const DEFAULT_COLLAPSE_GATE: CollapseGateSettings = Object.freeze({ k: 3, level: 0.15 });

export interface CollapseGate extends CollapseGateSettings {
  /** Folder images beyond every clean reference image on the gate's collapse score. */
  readonly floorHits: number;
  /** Floor hits that open the gate: the smallest m with P(X ≥ m) ≤ level, X ~ Beta-binomial(n, 1, M). */
  readonly needed: number;
  readonly open: boolean;
}

/**
 * The fewest floor hits m out of n folder images with P(X ≥ m) ≤ level, X ~ Beta-binomial(n, 1, M):
 * pmf(0) = M/(n+M), pmf(k+1) = pmf(k)·(n−k)/(n−k−1+M). n + 1 when even n hits are not that rare.
 */
export function collapseGateThreshold(n: number, M: number, level: number): number {
  if (!(Number.isInteger(n) && n >= 0 && Number.isInteger(M) && M >= 1)) throw new Error(`collapse gate: needs n ≥ 0 images and M ≥ 1 reference images, got ${n} and ${M}`);
  if (!(level > 0 && level < 1)) throw new Error(`collapse gate: level must be in (0, 1), got ${level}`);
  let pmf = M / (n + M);
  let below = 0; // P(X < m)
  for (let m = 0; m <= n; m++) {
    if (1 - below <= level * (1 + 1e-12)) return m;
    below += pmf;
    pmf *= (n - m) / (n - m - 1 + M);
  }
  return n + 1;
}

/**
 * One sentence on what the gate decided, for the app and the reports; `ahead` when it is decided
 * before the scan (from the embeddings, while the decoder trains: §8.6), saying what the scan will do.
 */
export function describeCollapseGate(g: Pick<CollapseGate, 'floorHits' | 'needed' | 'level' | 'open'>, when: 'scanned' | 'ahead' = 'scanned'): string {
  const hits = `${g.floorHits} ${when === 'scanned' ? 'scanned' : 'suspect'} image${g.floorHits === 1 ? '' : 's'} sat closer to their nearest neighbours than every clean reference image (${g.needed} needed; a clean folder shows that less than ${(g.level * 100).toFixed(0)}% of the time)`;
  if (when === 'ahead') {
    return g.open ? `Collapse found: ${hits}, so the scan will give the collapse score its share of the target rate.` : `No collapse found: ${hits}, so the scan will judge every image by the decoder score alone.`;
  }
  return g.open ? `Collapse found: ${hits}, so the collapse score took its share of the target rate.` : `No collapse found: ${hits}, so every image is judged by the decoder score alone, at the whole target rate.`;
}

export interface FolderSetSettings extends CollapseSettings {
  /** Target per-image false-positive rate α in (0, 1). */
  readonly targetFpr: number;
  /** Default DEFAULT_FUSION (Bonferroni min-p; see fusion.ts for why). */
  readonly fusion?: FusionMethod;
  /** Bonferroni only; default DEFAULT_SET_WEIGHTS. */
  readonly weights?: SetFusionWeights;
  /** Default DEFAULT_COLLAPSE_GATE; null always fuses. */
  readonly collapseGate?: CollapseGateSettings | null;
}

export interface SetImageVerdict {
  /**
   * The fused verdict score for ranking, −log10 of the combined p-value (higher = more suspicious);
   * where a component lies beyond every clean reference its p-value's floor is continued
   * (calibrate.rankingPValues) so that such images stay ordered. Those images are flagged already
   * (the floors reach α: checked), so score > −log10(α) ⟺ flagged still holds.
   */
  readonly score: number;
  /** The combined p-value; flagged iff fusedP ≤ targetFpr. */
  readonly fusedP: number;
  /** The image's DeDe score as given, and its conformal p-value on the clean DeDe scores. */
  readonly dedeScore: number;
  readonly dedePValue: number;
  /** Mean cosine similarity to the k nearest other folder images, and its p-value (collapse.ts). */
  readonly collapseScore: number;
  readonly collapsePValue: number;
  readonly flagged: boolean;
}

export interface FolderSetResult {
  readonly images: SetImageVerdict[];
  readonly targetFpr: number;
  readonly fusion: FusionMethod;
  /** Bonferroni shares of α actually used ({dede: 1, collapse: 0} with the gate shut; null for Fisher). */
  readonly weights: SetFusionWeights | null;
  /** What the collapse gate saw and decided (null: no gate, always fused). */
  readonly gate: CollapseGate | null;
  /** The collapse neighbour count actually used. */
  readonly k: number;
  /** Clean reference sizes behind each p-value (they bound the smallest p-value). */
  readonly cleanDedeCount: number;
  readonly cleanCollapseCount: number;
  readonly flaggedCount: number;
}

/**
 * Scores a folder as a set. Throws when the clean reference is too small for any image to reach
 * the target (each p-value's floor is 1/(M + 1), and the fused floor must be ≤ α).
 */
/** The gate's decision from the short-range collapse p-values of n folder images against M clean ones. */
function gateOf(short: CalibratedCollapse, n: number, M: number, settings: CollapseGateSettings): CollapseGate {
  const floor = 1 / (M + 1);
  const floorHits = Array.from(short.pValues).filter((p) => p <= floor * (1 + 1e-9)).length;
  const needed = collapseGateThreshold(n, M, settings.level);
  return { ...settings, floorHits, needed, open: floorHits >= needed };
}

/**
 * The collapse gate on its own, before any decoder score exists: the set-level half of the verdict
 * from embeddings (and pixel fingerprints) alone, as scoreFolderSet decides it with the same
 * settings (docs/ARCHITECTURE.md §8.6: the app shows it while the decoder trains).
 */
export function collapseGateOf(folder: EmbeddingSet, cleanRef: EmbeddingSet, settings: CollapseSettings = {}, gate: CollapseGateSettings = DEFAULT_COLLAPSE_GATE): CollapseGate {
  const n = rowCount(folder.embeddings, 'folder embeddings');
  const M = rowCount(cleanRef.embeddings, 'clean reference embeddings');
  const [short] = calibratedCollapseAt(folder, cleanRef, settings, [gate.k]);
  return gateOf(short!, n, M, gate);
}

export function scoreFolderSet(input: FolderSetInput, settings: FolderSetSettings): FolderSetResult {
  const alpha = settings.targetFpr;
  if (!(alpha > 0 && alpha < 1)) throw new Error(`set scan: target false-positive rate must be in (0, 1), got ${alpha}`);
  const method = settings.fusion ?? DEFAULT_FUSION;
  const n = rowCount(input.embeddings, 'folder embeddings');
  if (input.dedeScores.length !== n) throw new Error(`set scan: ${input.dedeScores.length} DeDe scores for ${n} embeddings`);
  const cleanDede = finiteSorted(input.cleanRef.dedeScores, 'clean DeDe score');
  finiteSorted(input.dedeScores, 'DeDe score');
  const M = rowCount(input.cleanRef.embeddings, 'clean reference embeddings');
  const weights = method === 'bonferroni' ? (settings.weights ?? DEFAULT_SET_WEIGHTS) : null;
  const fusion: FusionOptions = weights ? { method, weights: [weights.dede, weights.collapse] } : { method };
  const reach = componentReach([cleanDede.length, M], fusion);
  (['DeDe scores', 'reference embeddings'] as const).forEach((what, j) => {
    const r = reach[j] as number;
    if (!flaggedAt(r, alpha)) throw new Error(`set scan: with ${[cleanDede.length, M][j]} clean ${what} that component alone can reach a fused p-value of ${r.toPrecision(3)}, above the target ${alpha}; add clean reference images`);
  });
  const gateSettings = settings.collapseGate === undefined ? DEFAULT_COLLAPSE_GATE : settings.collapseGate;
  const k = settings.k ?? DEFAULT_COLLAPSE_K;
  const [collapse, short] = calibratedCollapseAt(
    { embeddings: input.embeddings, ...(input.fingerprints ? { fingerprints: input.fingerprints } : {}) },
    { embeddings: input.cleanRef.embeddings, ...(input.cleanRef.fingerprints ? { fingerprints: input.cleanRef.fingerprints } : {}) },
    settings,
    gateSettings ? [k, gateSettings.k] : [k],
  ) as [CalibratedCollapse, CalibratedCollapse | undefined];
  const gate = gateSettings && short ? gateOf(short, n, M, gateSettings) : null;
  const shut = gate !== null && !gate.open;
  const dedeP = pValues(input.dedeScores, { cleanScores: cleanDede });
  const dedeRanking = rankingPValues(input.dedeScores, { cleanScores: cleanDede }, dedeP);
  const fused = shut ? fusePValues([dedeP]) : fusePValues([dedeP, collapse.pValues], fusion);
  const ranking = shut ? fusePValues([dedeRanking]) : fusePValues([dedeRanking, rankingPValues(collapse.scores, { cleanScores: collapse.cleanScores }, collapse.pValues)], fusion);
  const images: SetImageVerdict[] = Array.from({ length: n }, (_, i) => {
    const fusedP = fused.fusedP[i] as number;
    return {
      score: ranking.fusedScore[i] as number,
      fusedP,
      dedeScore: input.dedeScores[i] as number,
      dedePValue: dedeP[i] as number,
      collapseScore: collapse.scores[i] as number,
      collapsePValue: collapse.pValues[i] as number,
      flagged: flaggedAt(fusedP, alpha),
    };
  });
  return {
    images,
    targetFpr: alpha,
    fusion: method,
    weights: shut ? { dede: 1, collapse: 0 } : weights,
    gate,
    k,
    cleanDedeCount: cleanDede.length,
    cleanCollapseCount: M,
    flaggedCount: images.filter((v) => v.flagged).length,
  };
}

function finiteSorted(values: ArrayLike<number>, what: string): number[] {
  const out = Array.from(values);
  out.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new Error(`set scan: ${what} #${i} is ${v}; scores must be finite`);
  });
  return out.sort((a, b) => a - b);
}
