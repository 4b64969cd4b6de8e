// Stop when converged (docs/ARCHITECTURE.md §8.5): at the end of every epoch the decoder scores a
// fixed sample of held-back clean images (never trained on) at the scoring mask; training stops once
// both their mean score (the held-back loss) and its 95th percentile (where a 5% calibration puts
// the threshold) have stopped moving: over the last `window` epochs each moved less than
// `tolerance` of its current value. The epoch budget stays the ceiling, and no run stops before
// `minEpochs`.
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
  /** Epochs the series must stay within `tolerance` over. */
  readonly window: number;
  /** Largest relative move (max − min over the window, over the last value) counted as still. */
  readonly tolerance: number;
  readonly minEpochs: number;
}

/** Chosen by measurement (§8.5). */
export const DEFAULT_CONVERGENCE: ConvergenceRule = { window: 5, tolerance: 0.02, minEpochs: 10 };

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

/** (max − min) / |last| over the last `window` + 1 values; Infinity while there are fewer. */
export function relativeMove(values: readonly number[], window: number): number {
  if (values.length < window + 1) return Infinity;
  const tail = values.slice(-(window + 1));
  const last = tail[tail.length - 1]!;
  const spread = Math.max(...tail) - Math.min(...tail);
  return last === 0 ? (spread === 0 ? 0 : Infinity) : spread / Math.abs(last);
}

export interface ConvergenceCheck {
  readonly converged: boolean;
  readonly lossMove: number;
  readonly quantileMove: number;
}

/** Whether training has converged after the points so far (one per epoch, in order). */
export function checkConvergence(points: readonly HeldBackPoint[], rule: ConvergenceRule): ConvergenceCheck {
  const lossMove = relativeMove(points.map((p) => p.loss), rule.window);
  const quantileMove = relativeMove(points.map((p) => p.quantile), rule.window);
  const epochs = points.at(-1)?.epoch ?? 0;
  return { converged: epochs >= rule.minEpochs && lossMove < rule.tolerance && quantileMove < rule.tolerance, lossMove, quantileMove };
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

/** The sentence the Train step and the CLI show for why a run stopped. */
export function convergenceText(epoch: number, rule: ConvergenceRule): string {
  return `converged at epoch ${epoch}: the held-back loss and its 95th percentile moved less than ${(rule.tolerance * 100).toFixed(0)}% over the last ${rule.window} epochs`;
}
