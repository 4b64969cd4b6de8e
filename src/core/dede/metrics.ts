// Detection metrics when labels are known (true = triggered/positive; higher score = more
// suspicious). Exact with ties: AUROC is the Mann–Whitney U with average ranks, i.e. the
// probability that a random positive outscores a random negative, ties counting one half.

export interface RocPoint {
  /** Images with score ≥ threshold are flagged at this point (+Infinity for the (0, 0) corner). */
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
  readonly tpr: number;
  readonly fpr: number;
}

export interface Confusion {
  /** Flagged means score > threshold (the calibration rule). */
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
  /** null where the denominator is 0 (no positives, no negatives, nothing flagged). */
  readonly tpr: number | null;
  readonly fpr: number | null;
  readonly precision: number | null;
  readonly accuracy: number | null;
}

function checkInputs(scores: ArrayLike<number>, labels: ArrayLike<boolean>): void {
  if (scores.length !== labels.length) throw new Error(`metrics: ${scores.length} scores but ${labels.length} labels`);
  for (let i = 0; i < scores.length; i++) if (Number.isNaN(scores[i] as number)) throw new Error(`metrics: score #${i} is NaN`);
}

function classCounts(labels: ArrayLike<boolean>): { pos: number; neg: number } {
  let pos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) pos++;
  return { pos, neg: labels.length - pos };
}

/** Indices ordered by score, ascending. */
function orderByScore(scores: ArrayLike<number>): Int32Array {
  const idx = Int32Array.from({ length: scores.length }, (_, i) => i);
  return idx.sort((a, b) => (scores[a] as number) - (scores[b] as number));
}

/** Sum of the (1-based, tie-averaged) ranks of the positives. */
function positiveRankSum(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  const order = orderByScore(scores);
  let sum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    const s = scores[order[start] as number] as number;
    while (end < order.length && scores[order[end] as number] === s) end++;
    const avgRank = (start + 1 + end) / 2; // ranks start+1 … end
    for (let i = start; i < end; i++) if (labels[order[i] as number]) sum += avgRank;
    start = end;
  }
  return sum;
}

/** Exact AUROC with ties, O(n log n). Throws unless both classes are present. */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  checkInputs(scores, labels);
  const { pos, neg } = classCounts(labels);
  if (pos === 0 || neg === 0) throw new Error(`metrics: AUROC needs both classes, got ${pos} positive and ${neg} negative`);
  const u = positiveRankSum(scores, labels) - (pos * (pos + 1)) / 2;
  return u / (pos * neg);
}

/**
 * ROC curve from (0, 0) to (1, 1): one point per distinct score, descending; tied scores enter
 * together, so ties draw a diagonal segment (whose trapezoid area counts them as one half).
 */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<boolean>): RocPoint[] {
  checkInputs(scores, labels);
  const { pos, neg } = classCounts(labels);
  if (pos === 0 || neg === 0) throw new Error(`metrics: a ROC curve needs both classes, got ${pos} positive and ${neg} negative`);
  const order = orderByScore(scores).reverse();
  const points: RocPoint[] = [{ threshold: Infinity, tp: 0, fp: 0, tpr: 0, fpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let start = 0; start < order.length; ) {
    const s = scores[order[start] as number] as number;
    let end = start;
    for (; end < order.length && scores[order[end] as number] === s; end++) {
      if (labels[order[end] as number]) tp++;
      else fp++;
    }
    points.push({ threshold: s, tp, fp, tpr: tp / pos, fpr: fp / neg });
    start = end;
  }
  return points;
}

/**
 * The best true-positive rate of any threshold whose realised false-positive rate is at most
 * maxFpr: the ROC curve's height at that FPR, ties entering together (a ranking property, with no
 * calibration; the calibrated verdict's own rates come from confusionAt).
 */
export function tprAtFpr(scores: ArrayLike<number>, labels: ArrayLike<boolean>, maxFpr: number): RocPoint {
  if (!(maxFpr >= 0 && maxFpr <= 1)) throw new Error(`metrics: maxFpr must be in [0, 1], got ${maxFpr}`);
  let best: RocPoint | undefined;
  for (const p of rocCurve(scores, labels)) if (p.fpr <= maxFpr) best = p;
  return best as RocPoint; // the (0, 0) corner always qualifies
}

/** Area under a ROC polyline by the trapezoid rule (equals auroc() for rocCurve's points). */
export function trapezoidArea(points: readonly Pick<RocPoint, 'tpr' | 'fpr'>[]): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1] as RocPoint;
    const b = points[i] as RocPoint;
    area += ((b.fpr - a.fpr) * (a.tpr + b.tpr)) / 2;
  }
  return area;
}

const rate = (num: number, den: number): number | null => (den > 0 ? num / den : null);

/** Confusion counts and rates when flagging score > τ. */
export function confusionAt(scores: ArrayLike<number>, labels: ArrayLike<boolean>, threshold: number): Confusion {
  checkInputs(scores, labels);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const flagged = (scores[i] as number) > threshold;
    if (labels[i]) {
      if (flagged) tp++;
      else fn++;
    } else if (flagged) fp++;
    else tn++;
  }
  return {
    threshold,
    tp,
    fp,
    tn,
    fn,
    tpr: rate(tp, tp + fn),
    fpr: rate(fp, fp + tn),
    precision: rate(tp, tp + fp),
    accuracy: rate(tp + tn, scores.length),
  };
}
