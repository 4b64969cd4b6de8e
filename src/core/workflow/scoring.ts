// Scoring stored images with a trained decoder, as the app's Calibrate and Scan steps do it:
// embeddings from the cache (computed once per encoder and image set), then the decoder at mask
// ratio 0.99, results streamed back in chunks so the review fills while the scan runs. Also the
// per-image explanation (reconstruction and error map) for the detail view.
import { importDecoder, type ImportedDecoder } from '../dede/decoder-file';
import type { EncoderSource } from '../dede/encoder-runner';
import { buildScorerModel, SCORE_MASK_RATIO, type ScorerSettings } from '../dede/scorer';
import { ContentScorer } from '../dede/content-scorer';
import { contentScores } from '../dede/content-calibration';
import type { ContentComponents, ContentScale } from '../dede/content-score';
import { numPatches, visibleCount } from '../dede/config';
import { randomKeep } from '../dede/mask';
import { mulberry32 } from '../dede/rng';
import { serializeModel } from '../onnx/serialize';
import type { Preprocessing } from '../images/preprocess';
import { leaseSession, readFloat32, type Runtime } from '../runtime/session';
import { throwIfCancelled } from '../runtime/cancel';
import { yieldToEventLoop } from '../runtime/yield';
import { decoderInputs, encoderInputs, ensureEmbeddings, type EmbedProgress, type PixelSource } from './embeddings';
import type { FileStore } from './files';

export interface ScoringRequest {
  readonly encoder: EncoderSource;
  readonly source: PixelSource;
  /** Which images of the source to score (ascending); null = all. */
  readonly slots: readonly number[] | null;
  readonly preprocessing: Preprocessing;
  readonly decoderPath: string;
  readonly scorer: ScorerSettings;
  /**
   * The content score's clean scale (docs/ARCHITECTURE.md §5.3.1): `scores` are content scores on
   * it; null (calibrating: the scale is fitted on these images) and `scores` are the median patch errors.
   */
  readonly contentScale: ContentScale | null;
}

export interface ScoredChunk {
  readonly slots: readonly number[];
  /** decoderScore: the content score on the request's scale, or without one the median patch error. */
  readonly scores: readonly number[];
  readonly dedeScores: readonly number[];
  /** The content score's raw components, per image. */
  readonly components: readonly ContentComponents[];
  /** The median of the masked patches' errors (a reported component). */
  readonly medianErrors: readonly number[];
}

export type ScoringProgress =
  | ({ readonly phase: 'embed' } & EmbedProgress)
  | { readonly phase: 'score'; readonly done: number; readonly total: number; readonly chunk: ScoredChunk };

export interface ScoringResult extends ScoredChunk {
  readonly decoderSha256: string;
  readonly seconds: number;
}

export async function loadDecoder(files: FileStore, path: string): Promise<{ decoder: ImportedDecoder; sha256: string }> {
  const bytes = await files.read(path);
  if (!bytes) throw new Error('The trained decoder is no longer in browser storage; train or import it again.');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return { decoder: importDecoder(bytes), sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') };
}

const CHUNK = 64;

export async function scoreImages(
  runtime: Runtime,
  files: FileStore,
  req: ScoringRequest,
  hooks: { signal?: AbortSignal; onProgress?: (p: ScoringProgress) => void } = {},
): Promise<ScoringResult> {
  const started = performance.now();
  const { decoder, sha256 } = await loadDecoder(files, req.decoderPath);
  const embeddings = await ensureEmbeddings(runtime, files, req.encoder, req.source, req.preprocessing, {
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    onProgress: (p) => hooks.onProgress?.({ phase: 'embed', ...p }),
  });
  if (embeddings.dim !== decoder.cfg.embedDim) {
    throw new Error(`The decoder expects embeddings of size ${decoder.cfg.embedDim} but the encoder gives ${embeddings.dim}: use the encoder it was trained with.`);
  }
  const slots = req.slots ?? Array.from({ length: req.source.count }, (_, i) => i);
  const scorer = await ContentScorer.open(runtime, decoder.cfg, decoder.weights, req.encoder, req.scorer, sha256);
  const all: { slots: number[]; scores: number[]; dedeScores: number[]; components: ContentComponents[]; medianErrors: number[] } = { slots: [], scores: [], dedeScores: [], components: [], medianErrors: [] };
  const dim = embeddings.dim;
  try {
    for (let from = 0; from < slots.length; from += CHUNK) {
      await yieldToEventLoop();
      throwIfCancelled(hooks.signal);
      const chunkSlots = slots.slice(from, from + CHUNK);
      const images = await decoderInputs(req.source, chunkSlots, req.preprocessing, decoder.cfg.imageSize);
      const emb = new Float32Array(chunkSlots.length * dim);
      chunkSlots.forEach((slot, k) => emb.set(embeddings.data.subarray(slot * dim, (slot + 1) * dim), k * dim));
      const encoderImages = await encoderInputs(req.source, chunkSlots, req.preprocessing);
      const results = await scorer.scoreBatch({ decoderImages: images, encoderImages, embeddings: emb }, undefined, hooks.signal ? { signal: hooks.signal } : {});
      const components = results.map((r) => r.components);
      const scores = req.contentScale ? Array.from(contentScores(components, req.contentScale)) : results.map((r) => r.decoder.score);
      const chunk: ScoredChunk = { slots: chunkSlots, scores, dedeScores: results.map((r) => r.decoder.dedeScore), components, medianErrors: results.map((r) => r.decoder.score) };
      all.slots.push(...chunk.slots);
      all.scores.push(...chunk.scores);
      all.dedeScores.push(...chunk.dedeScores);
      all.components.push(...chunk.components);
      all.medianErrors.push(...chunk.medianErrors);
      hooks.onProgress?.({ phase: 'score', done: all.slots.length, total: slots.length, chunk });
    }
  } finally {
    await scorer.dispose();
  }
  return { ...all, decoderSha256: sha256, seconds: (performance.now() - started) / 1000 };
}

export interface ImageExplanation {
  readonly slot: number;
  /** [C, H, W] the decoder's reconstruction, in the encoder's normalised space. */
  readonly reconstruction: Float32Array;
  /** [C, H, W] squared error per pixel. */
  readonly pixelError: Float32Array;
  /** [C, H, W] the input, normalised (what the error is measured against). */
  readonly input: Float32Array;
}

/** Reconstruction and error maps of a few images, for the detail view. */
export async function explainImages(runtime: Runtime, files: FileStore, req: Omit<ScoringRequest, 'scorer' | 'slots' | 'contentScale'> & { readonly slots: readonly number[] }, signal?: AbortSignal): Promise<ImageExplanation[]> {
  const { decoder, sha256 } = await loadDecoder(files, req.decoderPath);
  const embeddings = await ensureEmbeddings(runtime, files, req.encoder, req.source, req.preprocessing, signal ? { signal } : {});
  // Kept by the model worker: opening the next image's detail view builds nothing (§3.3).
  const lease = await leaseSession(runtime, 'explain', sha256, () => ({
    model: serializeModel(buildScorerModel(decoder.cfg, decoder.weights, { batch: 1, outputs: ['reconstruction', 'pixelError'] })),
  }));
  const { session } = lease;
  const { ort } = runtime;
  const S = decoder.cfg.imageSize;
  const dim = embeddings.dim;
  const out: ImageExplanation[] = [];
  try {
    for (const slot of req.slots) {
      throwIfCancelled(signal);
      const input = await decoderInputs(req.source, [slot], req.preprocessing, S);
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
        images: new ort.Tensor('float32', input.slice(), [1, 3, S, S]),
        embedding: new ort.Tensor('float32', embeddings.data.slice(slot * dim, (slot + 1) * dim), [1, dim]),
      };
      const keepCount = visibleCount(decoder.cfg, SCORE_MASK_RATIO);
      if (keepCount > 0) {
        // A fine patch grid leaves a few patches visible even at 0.99: show one seeded mask.
        const T = numPatches(decoder.cfg);
        feeds['keep'] = new ort.Tensor('float32', randomKeep(1, T, keepCount, mulberry32(slot)), [1, keepCount, T]);
      }
      const res = await session.run(feeds);
      out.push({ slot, input, reconstruction: (await readFloat32(res['reconstruction']!)).slice(), pixelError: (await readFloat32(res['pixelError']!)).slice() });
      for (const t of Object.values(res)) t.dispose();
    }
  } finally {
    await lease.release();
  }
  return out;
}
