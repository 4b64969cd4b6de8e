// Decoder training over a set of (mostly) clean images: seeded epoch shuffles, fresh random masks
// every step, an epoch and/or time budget, progress with images/s and ETA, cancel, periodic
// checkpoints and exact resume. Randomness is derived from (seed, step), so a run resumed from a
// checkpoint continues exactly as the uninterrupted run would.
import { initialState, toTrainGraph } from '../autograd/trainStep';
import type { Runtime } from '../runtime/session';
import { yieldToEventLoop } from '../runtime/yield';
import { Trainer, type Batch, type TrainCheckpoint } from '../train/trainer';
import { numPatches, visibleCount, type DecoderConfig } from './config';
import { keepOneHot, sampleKeepIndices } from './mask';
import { DECODER_INPUTS } from './model';
import { mulberry32, shuffleInPlace, type Rng } from './rng';
import { buildDecoderTrainStep } from './train-step';
import type { DecoderWeights } from './params';
import { checkConvergence, checkRule, heldBackPoint, type ConvergenceRule, type HeldBackPoint } from './convergence';

/** Where training images come from: normalised pixels at the decoder's resolution + embeddings. */
export interface TrainingData {
  readonly count: number;
  /** Images [n, 3, S, S] in the encoder's normalised space and embeddings [n, D], for `indices`. */
  batch(indices: readonly number[]): Promise<{ images: Float32Array; embeddings: Float32Array }>;
}

export interface TrainingPlan {
  readonly cfg: DecoderConfig;
  readonly batchSize: number;
  readonly maskRatio: number;
  /**
   * Share of each batch trained with no visible patch: the reconstruction then rests on the
   * embedding alone, which is how images are scored (mask 0.99 keeps no patch of 64) and how a
   * cluster's target is revealed. 0 is the paper's recipe.
   */
  readonly blindShare: number;
  readonly lr: number;
  /** Stop after this many epochs (null: only the time budget applies). */
  readonly epochs: number | null;
  /** Stop after this many minutes (null: only the epoch budget applies). */
  readonly minutes: number | null;
  readonly seed: number;
  /** Read the loss (a GPU sync on WebGPU) every this many steps. */
  readonly readLossEvery: number;
  /** Call onCheckpoint every this many steps (0: only at the end). */
  readonly checkpointEvery: number;
  /**
   * Report progress at most this often (seconds; absent: every step). Each report carries the loss
   * points read since the previous one, so nothing is lost; the last step is always reported
   * (docs/ARCHITECTURE.md §8.4: a message per step costs the page a render and a store save).
   */
  readonly progressSeconds?: number;
  /**
   * Stop when the held-back loss has stopped moving (docs/ARCHITECTURE.md §8.5); the epoch budget
   * stays the ceiling. Absent or null: the budgets alone decide. Needs the heldBack hook.
   */
  readonly convergence?: ConvergenceRule | null;
}

/** Laptop defaults (docs/ARCHITECTURE.md §8.2: a small decoder trained for more epochs beats a big one). */
export const DEFAULT_TRAINING: Omit<TrainingPlan, 'cfg'> = {
  batchSize: 64,
  maskRatio: 0.9,
  // bench:detect (150 epochs): fused AUROC 0.989 → 0.994 at 5% poison, TPR at α = 2% 96.2% → 97.6%.
  blindShare: 0.25,
  lr: 1e-3,
  epochs: 50,
  minutes: 10,
  seed: 0,
  readLossEvery: 10,
  checkpointEvery: 200,
};

export interface TrainingProgress {
  readonly step: number;
  readonly epoch: number;
  /** Steps the epoch budget allows (null with a time budget only). */
  readonly totalSteps: number | null;
  readonly stepsPerEpoch: number;
  readonly loss: number | null;
  /** Every loss read since the previous report (the curve's new points). */
  readonly newLosses: readonly LossPoint[];
  readonly imagesPerSecond: number;
  readonly elapsedSeconds: number;
  /** Seconds left under whichever budget ends first. */
  readonly etaSeconds: number | null;
  /** Held-back points measured since the previous report (one per finished epoch). */
  readonly newHeldBack?: readonly HeldBackPoint[];
}

export interface TrainingState {
  readonly trainer: TrainCheckpoint;
  readonly elapsedSeconds: number;
  readonly losses: readonly LossPoint[];
  /** One point per finished epoch (absent in states saved before convergence tracking). */
  readonly heldBack?: readonly HeldBackPoint[];
}

export interface LossPoint {
  readonly step: number;
  readonly loss: number;
}

export interface TrainingResult {
  readonly weights: DecoderWeights;
  readonly steps: number;
  readonly epochs: number;
  readonly elapsedSeconds: number;
  readonly losses: readonly LossPoint[];
  readonly stoppedBy: 'epochs' | 'time' | 'cancel' | 'converged';
  readonly state: TrainingState;
  readonly heldBack: readonly HeldBackPoint[];
  /** The epoch the convergence rule stopped at, or null. */
  readonly convergedAt: number | null;
}

export interface TrainingHooks {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: TrainingProgress) => void;
  readonly onCheckpoint?: (state: TrainingState) => void | Promise<void>;
  readonly resumeFrom?: TrainingState;
  readonly now?: () => number;
  /** Scores the held-back images with these weights (higher: worse reconstruction), at each epoch's end. */
  readonly heldBack?: (weights: DecoderWeights, epoch: number) => Promise<readonly number[]>;
  /**
   * Other work done at each epoch's end while the run continues (the suspect folders' embeddings,
   * docs/ARCHITECTURE.md §8.6); not called after the last epoch. It must not throw.
   */
  readonly betweenEpochs?: (epoch: number) => Promise<void>;
}

export function stepsPerEpoch(count: number, batchSize: number): number {
  return Math.floor(count / batchSize);
}

/** Images visited in step `step` (0-based): a seeded permutation per epoch, partial batches dropped. */
export function batchIndices(count: number, batchSize: number, seed: number, step: number): number[] {
  const perEpoch = stepsPerEpoch(count, batchSize);
  const epoch = Math.floor(step / perEpoch);
  const order = epochOrder(count, seed, epoch);
  const start = (step % perEpoch) * batchSize;
  return Array.from(order.subarray(start, start + batchSize));
}

const orderCache = new Map<string, Int32Array>();
function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  const key = `${count}:${seed}:${epoch}`;
  let order = orderCache.get(key);
  if (!order) {
    order = Int32Array.from({ length: count }, (_, i) => i);
    shuffleInPlace(order, mulberry32(mix(seed, epoch, 0x5eed)));
    orderCache.clear(); // one epoch at a time is all a run needs
    orderCache.set(key, order);
  }
  return order;
}

function mix(a: number, b: number, c: number): number {
  let h = (a ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (b + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (c + 0x165667b1), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function maskRng(seed: number, step: number): Rng {
  return mulberry32(mix(seed, step, 0x3a5c));
}

/**
 * The visible patches of step `step` (0-based) of a run with this seed: flat [batch·keepCount],
 * ascending per image, exactly what trainDecoder feeds (one-hot) as the `keep` input. Lets another
 * implementation (the PyTorch reference) replay the same masks.
 */
export function trainingKeepIndices(seed: number, step: number, batch: number, numPatches: number, keepCount: number): Int32Array {
  return sampleKeepIndices(batch, numPatches, keepCount, maskRng(seed, step));
}

/**
 * The images of step `step` trained blind (no visible patch): exactly round(share·batch) of them,
 * drawn from their own seeded stream so the patch masks of the other images do not depend on share.
 */
export function trainingBlindRows(seed: number, step: number, batch: number, share: number): Uint8Array {
  const blind = new Uint8Array(batch);
  const count = Math.round(share * batch);
  if (count === 0) return blind;
  const order = Int32Array.from({ length: batch }, (_, i) => i);
  const rng = mulberry32(mix(seed, step, 0xb11d));
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rng() * (batch - i));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
    blind[order[i]!] = 1;
  }
  return blind;
}

/** The `keep` input of step `step`: one-hot visible patches, all-zero rows for the blind images. */
export function trainingKeep(plan: Pick<TrainingPlan, 'seed' | 'blindShare'>, step: number, batch: number, numPatches: number, keepCount: number): Float32Array {
  const keep = keepOneHot(trainingKeepIndices(plan.seed, step, batch, numPatches, keepCount), batch, numPatches, keepCount);
  const blind = trainingBlindRows(plan.seed, step, batch, plan.blindShare);
  const row = keepCount * numPatches;
  blind.forEach((b, i) => {
    if (b) keep.fill(0, i * row, (i + 1) * row);
  });
  return keep;
}

export function validatePlan(plan: TrainingPlan, count: number): void {
  const problems: string[] = [];
  if (plan.epochs === null && plan.minutes === null) problems.push('set an epoch budget, a time budget, or both');
  if (plan.epochs !== null && !(plan.epochs > 0)) problems.push(`epochs must be positive, got ${plan.epochs}`);
  if (plan.convergence) problems.push(...checkRule(plan.convergence));
  if (plan.minutes !== null && !(plan.minutes > 0)) problems.push(`minutes must be positive, got ${plan.minutes}`);
  if (!Number.isInteger(plan.batchSize) || plan.batchSize < 1) problems.push(`batch size must be a positive integer, got ${plan.batchSize}`);
  else if (count < plan.batchSize) problems.push(`only ${count} training images for a batch of ${plan.batchSize}: add images or lower the batch size`);
  if (!(plan.lr > 0)) problems.push(`learning rate must be positive, got ${plan.lr}`);
  if (!(plan.maskRatio > 0 && plan.maskRatio < 1)) problems.push(`mask ratio must be between 0 and 1, got ${plan.maskRatio}`);
  if (!(plan.blindShare >= 0 && plan.blindShare <= 1)) problems.push(`blind share must be between 0 and 1, got ${plan.blindShare}`);
  if (problems.length > 0) throw new Error(`Cannot train: ${problems.join('; ')}.`);
}

export async function trainDecoder(
  runtime: Runtime,
  data: TrainingData,
  plan: TrainingPlan,
  initialWeights: DecoderWeights,
  hooks: TrainingHooks = {},
): Promise<TrainingResult> {
  validatePlan(plan, data.count);
  const now = hooks.now ?? (() => performance.now());
  const { cfg, batchSize } = plan;
  const T = numPatches(cfg);
  const Tk = visibleCount(cfg, plan.maskRatio);
  const step0 = buildDecoderTrainStep(cfg, { batch: batchSize, maskRatio: plan.maskRatio, weights: initialWeights });
  const graph = toTrainGraph(step0);
  const resume = hooks.resumeFrom;
  const trainer = await Trainer.create(runtime, graph, resume?.trainer ?? { step: 0, tensors: initialState(step0) });
  const perEpoch = stepsPerEpoch(data.count, batchSize);
  const totalSteps = plan.epochs !== null ? Math.ceil(plan.epochs * perEpoch) : null;
  const budgetSeconds = plan.minutes !== null ? plan.minutes * 60 : null;
  const losses: LossPoint[] = [...(resume?.losses ?? [])];
  const priorSeconds = resume?.elapsedSeconds ?? 0;
  const started = now();
  const elapsed = () => priorSeconds + (now() - started) / 1000;
  const heldBack: HeldBackPoint[] = [...(hooks.resumeFrom?.heldBack ?? [])];
  let reportedHeldBack = heldBack.length;
  let convergedAt: number | null = null;
  const stateOf = async (): Promise<TrainingState> => ({ trainer: await trainer.checkpoint(), elapsedSeconds: elapsed(), losses: [...losses], heldBack: [...heldBack] });

  // A checkpoint's write runs while training goes on (docs/ARCHITECTURE.md §8.4): only copying the
  // state is on the step's path. The previous write is awaited before the next one starts and
  // before the run ends, so a failed save still stops the run with its message.
  let saving: Promise<void> = Promise.resolve();
  const checkpoint = async () => {
    if (!hooks.onCheckpoint) return;
    await saving;
    const state = await stateOf();
    const write = Promise.resolve(hooks.onCheckpoint(state));
    write.catch(() => undefined); // handled where it is awaited: before the next save or at the end
    saving = write;
  };
  const progressMs = (plan.progressSeconds ?? 0) * 1000;
  let reportedAt = -Infinity;
  let reportedLosses = losses.length;

  let stoppedBy: TrainingResult['stoppedBy'] = 'epochs';
  try {
    for (;;) {
      const step = trainer.step;
      if (totalSteps !== null && step >= totalSteps) break;
      if (budgetSeconds !== null && elapsed() >= budgetSeconds) {
        stoppedBy = 'time';
        break;
      }
      // A pause request (and a fault) is a message: without this it would wait for the next checkpoint's I/O.
      await yieldToEventLoop();
      if (hooks.signal?.aborted) {
        stoppedBy = 'cancel';
        break;
      }
      const indices = batchIndices(data.count, batchSize, plan.seed, step);
      const { images, embeddings } = await data.batch(indices);
      const batch: Batch = {
        [DECODER_INPUTS.images]: { dims: [batchSize, cfg.channels, cfg.imageSize, cfg.imageSize], data: images },
        [DECODER_INPUTS.embedding]: { dims: [batchSize, cfg.embedDim], data: embeddings },
        [DECODER_INPUTS.keep]: { dims: [batchSize, Tk, T], data: trainingKeep(plan, step, batchSize, T, Tk) },
      };
      const isLast = totalSteps !== null && step + 1 >= totalSteps;
      const readLoss = (step + 1) % Math.max(1, plan.readLossEvery) === 0 || isLast;
      const stats = await trainer.trainStep(batch, plan.lr, readLoss);
      if (stats) {
        if (!Number.isFinite(stats.loss)) throw new Error(`Training diverged at step ${stats.step} (loss ${stats.loss}); lower the learning rate.`);
        losses.push({ step: stats.step, loss: stats.loss });
      }
      const done = trainer.step;
      // The end of an epoch: score the held-back images (§8.5), and stop once they stopped moving.
      if (hooks.heldBack && done % perEpoch === 0) {
        const epoch = done / perEpoch;
        heldBack.push(heldBackPoint(epoch, await hooks.heldBack(await trainer.parameters(), epoch)));
        if (plan.convergence && checkConvergence(heldBack, plan.convergence).converged) {
          convergedAt = epoch;
          stoppedBy = 'converged';
        }
      }
      const wall = now();
      if (hooks.onProgress && (isLast || convergedAt !== null || wall - reportedAt >= progressMs)) {
        reportedAt = wall;
        const secs = elapsed();
        const rate = (done * batchSize) / Math.max(secs, 1e-6);
        const etaSteps = totalSteps !== null ? ((totalSteps - done) * batchSize) / Math.max(rate, 1e-9) : null;
        const etaBudget = budgetSeconds !== null ? Math.max(0, budgetSeconds - secs) : null;
        hooks.onProgress({
          step: done,
          epoch: done / perEpoch,
          totalSteps,
          stepsPerEpoch: perEpoch,
          loss: losses.at(-1)?.loss ?? null,
          newLosses: losses.slice(reportedLosses),
          imagesPerSecond: rate,
          elapsedSeconds: secs,
          etaSeconds: etaSteps === null ? etaBudget : etaBudget === null ? etaSteps : Math.min(etaSteps, etaBudget),
          newHeldBack: heldBack.slice(reportedHeldBack),
        });
        reportedLosses = losses.length;
        reportedHeldBack = heldBack.length;
      }
      if (convergedAt !== null) break;
      if (hooks.betweenEpochs && done % perEpoch === 0 && !isLast) await hooks.betweenEpochs(done / perEpoch);
      if (plan.checkpointEvery > 0 && done % plan.checkpointEvery === 0) await checkpoint();
    }
    await saving;
    const state = await stateOf();
    if (hooks.onCheckpoint) await hooks.onCheckpoint(state);
    const params = await trainer.parameters();
    return { weights: params, steps: trainer.step, epochs: trainer.step / perEpoch, elapsedSeconds: state.elapsedSeconds, losses, stoppedBy, state, heldBack, convergedAt };
  } finally {
    await trainer.dispose();
  }
}
