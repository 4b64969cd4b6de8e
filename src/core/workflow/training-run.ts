// One decoder training run as the app performs it: cached encoder embeddings of the clean images,
// then the training loop on the training split, checkpoints into the file store (so a pause, a
// crash or a reload resumes), and the trained decoder written as a standard ONNX file.
import { exportDecoder, trainingInfoFrom } from '../dede/decoder-file';
import type { EncoderSource } from '../dede/encoder-runner';
import { readoutKey, readoutRecord } from '../onnx/readout';
import { initDecoderWeights } from '../dede/init';
import { decodeTrainingState, encodeTrainingState } from '../dede/state-file';
import { DEDE_ADAM } from '../dede/train-step';
import { trainDecoder, type TrainingPlan, type TrainingProgress, type TrainingResult, type TrainingState } from '../dede/train-loop';
import { mulberry32, permutation } from '../dede/rng';
import type { Preprocessing } from '../images/preprocess';
import type { Runtime } from '../runtime/session';
import { decoderInputs, ensureEmbeddings, type EmbedProgress, type Embeddings, type PixelSource } from './embeddings';
import { heldBackSample, heldBackScorer } from '../dede/convergence';
import type { DecoderWeights } from '../dede/params';
import type { FileStore } from './files';
import { saving } from './storage-full';
import { EmbeddingPrefetch, earlyGateAffordable, type PrefetchProgress } from './prefetch';
import { collapseGateFromCache } from './verdict';
import type { CollapseGate } from '../dede/set-scan';

export interface TrainingRunRequest {
  readonly runId: string;
  readonly encoder: EncoderSource & { readonly name: string };
  readonly source: PixelSource;
  /** Indices of the source's images to train on; the others stay held back for calibration. */
  readonly trainSlots: readonly number[];
  readonly preprocessing: Preprocessing;
  readonly plan: TrainingPlan;
  /** Continue from this run's checkpoint when one exists. */
  readonly resume: boolean;
  /**
   * Held-back clean images (never trained on) scored at every epoch end to see when training has
   * converged (docs/ARCHITECTURE.md §8.5); a sample of at most HELD_BACK_SAMPLE is used.
   */
  readonly heldBackSlots?: readonly number[];
  /**
   * Folders to embed between epochs (the suspect folders, docs/ARCHITECTURE.md §8.6), at the same
   * working size and preprocessing, so the scan after training finds their embeddings cached.
   */
  readonly prefetch?: readonly PixelSource[];
}

export type RunProgress =
  | ({ readonly phase: 'embed' } & EmbedProgress)
  | ({ readonly phase: 'train' } & TrainingProgress)
  | ({ readonly phase: 'prefetch' } & PrefetchProgress)
  /** The verdict's collapse gate over the prefetched folders, decided before the decoder is done (§8.6). */
  | { readonly phase: 'collapse'; readonly gate: CollapseGate };

export interface TrainingRunResult {
  readonly stoppedBy: TrainingResult['stoppedBy'];
  readonly steps: number;
  readonly epochs: number;
  readonly elapsedSeconds: number;
  readonly losses: TrainingResult['losses'];
  /** Where the trained decoder was written (null when the run was paused/cancelled). */
  readonly decoderPath: string | null;
  readonly resumedFromStep: number | null;
  readonly heldBack: TrainingResult['heldBack'];
  readonly convergedAt: number | null;
}

export const runPaths = (runId: string) => ({
  checkpoint: `runs/${runId}/state.ckpt`,
  decoder: `runs/${runId}/decoder.onnx`,
});

/**
 * The run's saved training state, or null. A first save interrupted by a crash leaves an empty file
 * (the file store's atomic write swaps the bytes in at the end, but creates the file at the start):
 * that is no checkpoint yet, not a damaged one.
 */
export async function readCheckpoint(files: Pick<FileStore, 'read'>, runId: string): Promise<Uint8Array | null> {
  const bytes = await files.read(runPaths(runId).checkpoint);
  return bytes && bytes.length > 0 ? bytes : null;
}

/** A seeded split of `count` images into training and held-back calibration slots. */
export function splitSlots(count: number, holdOutFraction: number, seed: number): { train: number[]; heldOut: number[] } {
  if (!(holdOutFraction >= 0 && holdOutFraction < 1)) throw new Error(`hold-out fraction must be in [0, 1), got ${holdOutFraction}`);
  const order = permutation(count, mulberry32(seed ^ 0x51ab));
  const held = Math.round(count * holdOutFraction);
  return { heldOut: order.slice(0, held).sort((a, b) => a - b), train: order.slice(held).sort((a, b) => a - b) };
}

function runMeta(req: TrainingRunRequest): Record<string, unknown> {
  // A plan without blind rows is written as before the setting existed: older checkpoints still resume.
  const { blindShare, ...rest } = req.plan;
  const plan = blindShare > 0 ? req.plan : rest;
  // Likewise a plain [N, D] readout, which was the only one before readouts could be chosen.
  const { readout } = req.encoder.spec;
  return { encoder: req.encoder.sha256, ...(readout.pooling !== 'none' ? { readout: readoutKey(readout) } : {}), source: req.source.id, count: req.source.count, trainSlots: req.trainSlots.length, plan };
}

export async function runTraining(
  runtime: Runtime,
  files: FileStore,
  req: TrainingRunRequest,
  hooks: { signal?: AbortSignal; onProgress?: (p: RunProgress) => void } = {},
): Promise<TrainingRunResult> {
  const paths = runPaths(req.runId);
  const embeddings = await ensureEmbeddings(runtime, files, req.encoder, req.source, req.preprocessing, {
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    onProgress: (p) => hooks.onProgress?.({ phase: 'embed', ...p }),
  });
  const cfg = req.plan.cfg;
  if (cfg.embedDim !== embeddings.dim) throw new Error(`The decoder expects embeddings of size ${cfg.embedDim}, the encoder gives ${embeddings.dim}.`);

  let resumeFrom: TrainingState | undefined;
  const meta = runMeta(req);
  if (req.resume) {
    const bytes = await readCheckpoint(files, req.runId);
    if (bytes) {
      const saved = decodeTrainingState(bytes);
      if (JSON.stringify(saved.meta) !== JSON.stringify(meta)) throw new Error('The saved training state belongs to other settings or images; start a new run.');
      resumeFrom = saved.state;
    }
  }

  // The training split at the decoder's size, normalised once: 3·S² floats per image.
  const px = 3 * cfg.imageSize * cfg.imageSize;
  const images = await decoderInputs(req.source, req.trainSlots, req.preprocessing, cfg.imageSize);
  const dim = embeddings.dim;
  const data = {
    count: req.trainSlots.length,
    async batch(indices: readonly number[]) {
      const im = new Float32Array(indices.length * px);
      const em = new Float32Array(indices.length * dim);
      indices.forEach((i, k) => {
        im.set(images.subarray(i * px, (i + 1) * px), k * px);
        const slot = req.trainSlots[i]!;
        em.set(embeddings.data.subarray(slot * dim, (slot + 1) * dim), k * dim);
      });
      return { images: im, embeddings: em };
    },
  };

  const heldBack = await heldBackHook(runtime, req, embeddings);
  const prefetch = req.prefetch?.length ? new EmbeddingPrefetch(runtime, files, req.encoder, req.prefetch, req.preprocessing, (p) => hooks.onProgress?.({ phase: 'prefetch', ...p })) : null;
  // Once every scan folder is embedded: the verdict's collapse gate on them, once, when affordable.
  let gateAsked = false;
  const prefetchAndGate = async (p: EmbeddingPrefetch): Promise<void> => {
    await p.betweenEpochs(hooks.signal);
    const folders = req.prefetch ?? [];
    if (gateAsked || p.pending > 0 || p.skipped.length > 0 || hooks.signal?.aborted) return;
    gateAsked = true;
    if (!earlyGateAffordable(folders.reduce((n, f) => n + f.count, 0), req.source.count, embeddings.dim)) return;
    try {
      const gate = await collapseGateFromCache(runtime, files, { encoder: req.encoder, folders, clean: req.source, preprocessing: req.preprocessing });
      hooks.onProgress?.({ phase: 'collapse', gate });
    } catch {
      // Left to the scan's verdict, which reports what went wrong.
    }
  };
  let result: TrainingResult;
  try {
    result = await trainDecoder(runtime, data, req.plan, initDecoderWeights(cfg, req.plan.seed), {
      ...(heldBack ? { heldBack } : {}),
      ...(prefetch ? { betweenEpochs: () => prefetchAndGate(prefetch) } : {}),
      ...(hooks.signal ? { signal: hooks.signal } : {}),
      ...(resumeFrom ? { resumeFrom } : {}),
      onProgress: (p) => hooks.onProgress?.({ phase: 'train', ...p }),
      onCheckpoint: (state) => saving(`the training checkpoint at step ${state.trainer.step}`, () => files.write(paths.checkpoint, encodeTrainingState(state, meta))),
    });
  } finally {
    await prefetch?.dispose();
  }
  let decoderPath: string | null = null;
  if (result.stoppedBy !== 'cancel') {
    const bytes = exportDecoder(cfg, result.weights, {
      training: { ...trainingInfoFrom(req.plan, result, req.trainSlots.length), weightDecay: DEDE_ADAM.weightDecay ?? 0, dataset: req.source.id },
      encoder: { name: req.encoder.name, sha256: req.encoder.sha256, output: req.encoder.spec.readout.output, readout: readoutRecord(req.encoder.spec.readout, dim) },
      createdAt: new Date().toISOString(),
    });
    await saving('the trained decoder', () => files.write(paths.decoder, bytes));
    decoderPath = paths.decoder;
  }
  return {
    stoppedBy: result.stoppedBy,
    steps: result.steps,
    epochs: result.epochs,
    elapsedSeconds: result.elapsedSeconds,
    losses: result.losses,
    decoderPath,
    resumedFromStep: resumeFrom?.trainer.step ?? null,
    heldBack: result.heldBack,
    convergedAt: result.convergedAt,
  };
}

/** The train loop's heldBack hook on a sample of the held-back slots; null without any. */
async function heldBackHook(runtime: Runtime, req: TrainingRunRequest, embeddings: Embeddings): Promise<((weights: DecoderWeights) => Promise<number[]>) | null> {
  const all = req.heldBackSlots ?? [];
  const slots = heldBackSample(all.length).map((i) => all[i]!);
  if (slots.length === 0) return null;
  const cfg = req.plan.cfg;
  const images = await decoderInputs(req.source, slots, req.preprocessing, cfg.imageSize);
  const dim = embeddings.dim;
  const emb = new Float32Array(slots.length * dim);
  slots.forEach((slot, k) => emb.set(embeddings.data.subarray(slot * dim, (slot + 1) * dim), k * dim));
  return heldBackScorer(runtime, cfg, images, emb);
}
