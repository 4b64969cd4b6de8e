// Stop when converged (docs/ARCHITECTURE.md §8.5): at the end of every epoch the decoder scores a
// fixed sample of held-back clean images (never trained on) at the scoring mask; training stops once
// both their mean score (the held-back loss) and its 95th percentile (where a 5% calibration puts
// the threshold) have stopped improving: the mean of each over the last `window` epochs is less
// than `tolerance` (relative) below its mean over the `window` epochs before. Means of windows,
// because the held-back loss jitters by a few percent from one epoch to the next (measured: §8.5),
// which a max − min test reads as movement for ever. The epoch budget stays the ceiling, and no run
// stops before `minEpochs`.
import type { Runtime } from '../runtime/session';
import type { DecoderConfig } from './config';
import type { DecoderWeights } from './params';
import { Scorer } from './scorer';

/** One end-of-epoch measurement on the held-back images. */
export interface HeldBackPoint {
  readonly epoch: number;
  /** Mean decoder score (median masked-patch error) of the held-back images. */
  readonly loss: number;
  /** Its 95th percentile over the held-back images. */
  readonly quantile: number;
}

export interface ConvergenceRule {
  /** Epochs per window: the last `window` are compared with the `window` before. */
  readonly window: number;
  /** Largest relative improvement between the two windows' means counted as converged. */
  readonly tolerance: number;
  readonly minEpochs: number;
}

/** Chosen by measurement (§8.5). */
export const DEFAULT_CONVERGENCE: ConvergenceRule = { window: 5, tolerance: 0.05, minEpochs: 10 };

/** Held-back images scored per epoch: enough for a stable mean and 95th percentile, cheap to run. */
export const HELD_BACK_SAMPLE = 128;

/** Evenly spaced positions in 0..count−1, at most HELD_BACK_SAMPLE: the same sample every epoch, spread over the folder. */
export function heldBackSample(count: number, most = HELD_BACK_SAMPLE): number[] {
  const m = Math.min(count, most);
  return Array.from({ length: m }, (_, i) => Math.floor(((i + 0.5) * count) / m));
}

/**
 * The train loop's heldBack hook over fixed held-back images ([n, C, S, S] normalised) and their
 * embeddings: the decoder score (median masked-patch error at the scoring mask, fixed masks) of
 * each, with the weights of the moment.
 */
export function heldBackScorer(runtime: Runtime, cfg: DecoderConfig, images: Float32Array, embeddings: Float32Array): (weights: DecoderWeights) => Promise<number[]> {
  return async (weights) => {
    const scorer = await Scorer.create(runtime, cfg, weights, { batch: 16 });
    try {
      return (await scorer.scoreBatch(images, embeddings)).map((r) => r.score);
    } finally {
      await scorer.dispose();
    }
  };
}

/**
 * How much the last `window` values improved on the `window` before them: (mean before − mean
 * last) / |mean last|; negative when they got worse; Infinity while there are fewer than 2·window.
 */
export function relativeImprovement(values: readonly number[], window: number): number {
  if (values.length < 2 * window) return Infinity;
  const mean = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const last = mean(values.slice(-window));
  const before = mean(values.slice(-2 * window, -window));
  return last === 0 ? (before === 0 ? 0 : Infinity) : (before - last) / Math.abs(last);
}

export interface ConvergenceCheck {
  readonly converged: boolean;
  /** relativeImprovement of the held-back loss and of its 95th percentile. */
  readonly lossGain: number;
  readonly quantileGain: number;
}

/** Whether training has converged after the points so far (one per epoch, in order). */
export function checkConvergence(points: readonly HeldBackPoint[], rule: ConvergenceRule): ConvergenceCheck {
  const lossGain = relativeImprovement(points.map((p) => p.loss), rule.window);
  const quantileGain = relativeImprovement(points.map((p) => p.quantile), rule.window);
  const epochs = points.at(-1)?.epoch ?? 0;
  return { converged: epochs >= rule.minEpochs && lossGain < rule.tolerance && quantileGain < rule.tolerance, lossGain, quantileGain };
}

export function checkRule(rule: ConvergenceRule): string[] {
  const problems: string[] = [];
  if (!(Number.isInteger(rule.window) && rule.window >= 1)) problems.push(`the convergence window must be a whole number of epochs ≥ 1, got ${rule.window}`);
  if (!(rule.tolerance > 0 && rule.tolerance < 1)) problems.push(`the convergence tolerance must be in (0, 1), got ${rule.tolerance}`);
  if (!(Number.isInteger(rule.minEpochs) && rule.minEpochs >= 1)) problems.push(`the minimum epochs must be a whole number ≥ 1, got ${rule.minEpochs}`);
  return problems;
}

/** Mean and 95th percentile (nearest rank) of held-back scores: one HeldBackPoint. */
export function heldBackPoint(epoch: number, scores: readonly number[]): HeldBackPoint {
  if (scores.length === 0) throw new Error('held-back loss: no held-back images were scored');
  const sorted = [...scores].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return { epoch, loss: mean, quantile: sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]! };
}

/** Where a run stands against the rule, for the Train step while it trains (and after). */
export function convergenceStatus(points: readonly HeldBackPoint[], rule: ConvergenceRule): string {
  const from = Math.max(2 * rule.window, rule.minEpochs);
  const tol = `${(rule.tolerance * 100).toFixed(0)}%`;
  if (points.length < 2 * rule.window) return `Judged from epoch ${from}: the held-back loss of the last ${rule.window} epochs against the ${rule.window} before; training stops once it and its 95th percentile improve less than ${tol}.`;
  const { lossGain, quantileGain } = checkConvergence(points, rule);
  const change = (g: number) => `${g >= 0 ? 'improved' : 'worsened'} ${(Math.abs(g) * 100).toFixed(1)}%`;
  const early = (points.at(-1)?.epoch ?? 0) < rule.minEpochs ? ` (from epoch ${rule.minEpochs})` : '';
  return `Over the last ${rule.window} epochs the held-back loss ${change(lossGain)} and its 95th percentile ${change(quantileGain)} on the ${rule.window} before; training stops once both improve less than ${tol}${early}.`;
}

/** The sentence the Train step and the CLI show for why a run stopped. */
export function convergenceText(epoch: number, rule: ConvergenceRule): string {
  return `converged at epoch ${epoch}: over its last ${rule.window} epochs the held-back loss and its 95th percentile improved less than ${(rule.tolerance * 100).toFixed(0)}% on the ${rule.window} before`;
}
