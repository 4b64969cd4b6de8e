// "What does the backdoor map to?": the flagged images of a scan clustered by embedding, each
// cluster's mean embedding decoded with no visible patch, and where its error sits compared with
// clean images (the trigger map), and the clean photos the encoder sees it as (reveal by example,
// docs/ARCHITECTURE.md §5.7.1). Embeddings come from the cache; pixels only for the members.
import { exampleReference, examplesFor, type RevealExamples } from '../dede/reveal-examples';
import { decodeEmbeddings, fitContrastMap, meanPixelError, revealTargets, type RevealedTarget } from '../dede/reveal';
import { Scorer } from '../dede/scorer';
import type { EncoderSource } from '../dede/encoder-runner';
import type { Preprocessing } from '../images/preprocess';
import type { Runtime } from '../runtime/session';
import { decoderInputs, ensureEmbeddings, type PixelSource } from './embeddings';
import type { FileStore } from './files';
import { loadDecoder } from './scoring';
import { concatArrays } from '../concat';

export interface RevealRequest {
  readonly encoder: EncoderSource;
  /** The scanned folders; indices below count through them in this order. */
  readonly folders: readonly PixelSource[];
  /** Indices (into the folders, concatenated) of the flagged images, most suspicious first. */
  readonly flagged: readonly number[];
  /** Visiting order for clustering, e.g. the collapse scores of all images (concatenated). */
  readonly priority?: readonly number[];
  readonly clean: PixelSource;
  /** Clean images for the reference error map (e.g. the calibration's held-back slots). */
  readonly cleanSlots: readonly number[];
  readonly preprocessing: Preprocessing;
  readonly decoderPath: string;
  /** One label per clean slot (its class folder, exampleLabel), or absent: examples are then ranked by photo only. */
  readonly cleanLabels?: readonly (string | null)[];
}

/** A revealed cluster with the clean photos nearest its mean embedding (indices are clean slots). */
export interface RevealRunTarget extends RevealedTarget {
  readonly examples: RevealExamples;
}

/** At most this many clean images for the error map and the contrast map: stable means, bounded work. */
const MAP_SAMPLE = 64;

/** Decoder inputs of the images at `indices` counted through `sources` back to back, in that order. */
async function gatherImages(sources: readonly PixelSource[], indices: readonly number[], p: Preprocessing, size: number): Promise<Float32Array> {
  const px = 3 * size * size;
  const out = new Float32Array(indices.length * px);
  let start = 0;
  for (const source of sources) {
    const mine = indices.map((index, k) => ({ k, slot: index - start })).filter((e) => e.slot >= 0 && e.slot < source.count);
    const pixels = await decoderInputs(source, mine.map((e) => e.slot), p, size);
    mine.forEach((e, j) => out.set(pixels.subarray(j * px, (j + 1) * px), e.k * px));
    start += source.count;
  }
  return out;
}

export async function revealRun(runtime: Runtime, files: FileStore, req: RevealRequest, signal?: AbortSignal): Promise<RevealRunTarget[]> {
  const { decoder, sha256 } = await loadDecoder(files, req.decoderPath);
  const embed = (s: PixelSource) => ensureEmbeddings(runtime, files, req.encoder, s, req.preprocessing, signal ? { signal } : {});
  const parts = await Promise.all(req.folders.map(embed));
  const dim = parts[0]?.dim ?? decoder.cfg.embedDim;
  const all = concatArrays(Float32Array, parts.map((e) => e.data));

  const scorer = await Scorer.create(runtime, decoder.cfg, decoder.weights, {}, sha256);
  try {
    const cleanEmb = await embed(req.clean);
    const cleanSlots = req.cleanSlots.slice(0, MAP_SAMPLE);
    const cleanImages = await gatherImages([req.clean], cleanSlots, req.preprocessing, decoder.cfg.imageSize);
    const cleanE = new Float32Array(cleanSlots.length * dim);
    cleanSlots.forEach((s, k) => cleanE.set(cleanEmb.data.subarray(s * dim, (s + 1) * dim), k * dim));
    const cleanPixelError = await meanPixelError(scorer, cleanImages, cleanE, signal ? { signal } : {});
    // Decoded targets are shown at the contrast of clean photos (needs two clean images at least).
    const contrast = cleanSlots.length >= 2 ? fitContrastMap(cleanImages, await decodeEmbeddings(runtime, decoder.cfg, decoder.weights, cleanE), cleanImages.length / cleanSlots.length) : undefined;

    // Only the flagged images' pixels are needed, and at most 512 of them: memory stays bounded
    // however large the scan; member indices are mapped back at the end.
    const sample = req.flagged.slice(0, 512);
    const sampledPixels = await gatherImages(req.folders, sample, req.preprocessing, decoder.cfg.imageSize);
    const sampledEmb = new Float32Array(sample.length * dim);
    sample.forEach((i, k) => sampledEmb.set(all.subarray(i * dim, (i + 1) * dim), k * dim));
    const priority = req.priority ? sample.map((i) => req.priority![i]!) : undefined;
    const targets = await revealTargets(
      { runtime, cfg: decoder.cfg, weights: decoder.weights, scorer },
      {
        embeddings: { data: sampledEmb, dim },
        flagged: Array.from(sample, (_, k) => k),
        ...(priority ? { priority } : {}),
        images: sampledPixels,
        cleanPixelError,
        ...(contrast ? { contrast } : {}),
        ...(signal ? { signal } : {}),
      },
    );
    // Every clean photo is a candidate example, not only the calibration's held-back ones; the
    // reference is centred and its neighbour scale measured once for all clusters.
    const labels = req.cleanLabels && req.cleanLabels.length === cleanEmb.count ? { labels: req.cleanLabels } : {};
    const examples = targets.length > 0 ? exampleReference({ data: cleanEmb.data, dim }, labels) : null;
    // Member indices back to the scan's numbering.
    return targets.map((t) => ({
      ...t,
      members: Int32Array.from(t.members, (k) => sample[k]!),
      examples: examplesFor(examples!, t.meanEmbedding),
    }));
  } finally {
    await scorer.dispose();
  }
}
