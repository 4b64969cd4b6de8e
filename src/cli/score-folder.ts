// Scores every image of a folder: encoder embeddings, then the decoder at mask ratio 0.99 and, for
// the content score (docs/ARCHITECTURE.md §5.3.1), two more encoder calls per image.
import * as ort from 'onnxruntime-node';
import { Scorer, type ImageScore, type ScorerSettings } from '../core/dede/scorer';
import { ContentScorer } from '../core/dede/content-scorer';
import { contentScores } from '../core/dede/content-calibration';
import type { ContentComponents, ContentScale } from '../core/dede/content-score';
import { createRuntime } from '../core/runtime/session';
import type { CliDecoder } from './decoder-io';
import type { CliEncoder } from './encoder';
import { atDecoderSize, loadImageFolder, normalizedBatch, type LoadedImages, type Unreadable } from './node-images';
import { atSize } from '../core/workflow/embeddings';
import { pixelFingerprints, type Rows } from '../core/dede/collapse';
import { progressLine } from './progress';
import { embedImages } from './embed-images';

/**
 * What the decoder scores are for: `fit`, the components for a calibration to fit its scale on;
 * a scale, the content score on it; `patch`, the median patch error alone (a calibration made
 * before the content score, which is what its threshold was fitted on).
 */
export type DecoderScoring = 'fit' | ContentScale | 'patch';

export interface FolderScores {
  readonly paths: readonly string[];
  /**
   * decoderScore, what the verdict judges by: the content score with a scale, the median patch
   * error with `patch`; with `fit` also the median patch error (the scale is not known yet).
   */
  readonly scores: Float64Array;
  /** The median of the masked patches' errors (a reported component). */
  readonly medianErrors: Float64Array;
  readonly dedeScores: Float64Array;
  /** The content score's raw components, per image; null with `patch`. */
  readonly components: readonly ContentComponents[] | null;
  /** [n, dim] encoder embeddings (for the set-level collapse score). */
  readonly embeddings: Rows;
  /** [n, f] pixel fingerprints (near-duplicate exclusion in the collapse score). */
  readonly fingerprints: Rows;
  readonly unreadable: readonly Unreadable[];
  readonly seconds: number;
}

/** Embeddings and fingerprints of a folder, without decoder scoring (the collapse reference). */
export async function embedFolder(dir: string, encoder: CliEncoder, label: string): Promise<{ embeddings: Rows; fingerprints: Rows; paths: readonly string[] }> {
  const read = progressLine(`${label}: read`);
  const images = await loadImageFolder(dir, encoder.preprocessing, (d, t) => read.update(d, t));
  read.done(`${images.paths.length} images, ${images.unreadable.length} unreadable`);
  return { embeddings: await embedImages(images, encoder, label), fingerprints: fingerprintsOf(images), paths: images.paths };
}

export function fingerprintsOf(images: LoadedImages): Rows {
  return pixelFingerprints(images.rgb, { channels: 3, height: images.height, width: images.width }, { layout: 'hwc' });
}

const CHUNK = 256;

export async function scoreFolder(dir: string, encoder: CliEncoder, decoder: CliDecoder, settings: ScorerSettings, scoring: DecoderScoring, label: string): Promise<FolderScores> {
  if (decoder.meta.encoder?.sha256 && decoder.meta.encoder.sha256 !== encoder.sha256) {
    process.stderr.write(`warning: the decoder was trained with another encoder (sha256 ${decoder.meta.encoder.sha256.slice(0, 12)}…, this one is ${encoder.sha256.slice(0, 12)}…)\n`);
  }
  const started = Date.now();
  const read = progressLine(`${label}: read`);
  const encImages = await loadImageFolder(dir, encoder.preprocessing, (d, t) => read.update(d, t));
  read.done(`${encImages.paths.length} images, ${encImages.unreadable.length} unreadable`);
  return scoreLoadedImages(encImages, encoder, decoder, settings, scoring, label, started);
}

/** scoreFolder on images already loaded at the encoder's size (a shard's chunk, say). */
export async function scoreLoadedImages(encImages: LoadedImages, encoder: CliEncoder, decoder: CliDecoder, settings: ScorerSettings, scoring: DecoderScoring, label: string, started = Date.now()): Promise<FolderScores> {
  const runtime = createRuntime(ort, 'cpu');
  const size = decoder.cfg.imageSize;
  const decPre = atSize(encoder.preprocessing, size);
  const decImages = atDecoderSize(encImages, size);

  const embeddings = await embedImages(encImages, encoder, label);
  if (encImages.paths.length > 0 && embeddings.dim !== decoder.cfg.embedDim) throw new Error(`The encoder gives embeddings of size ${embeddings.dim} but the decoder expects ${decoder.cfg.embedDim}: use the encoder it was trained with.`);
  const dim = embeddings.dim;
  const withContent = scoring !== 'patch';
  const content = withContent ? await ContentScorer.create(runtime, decoder.cfg, decoder.weights, encoder.spec, settings, createRuntime(ort, encoder.device.used)) : null;
  const scorer = content?.scorer ?? (await Scorer.create(runtime, decoder.cfg, decoder.weights, settings));
  const n = encImages.paths.length;
  const medianErrors = new Float64Array(n);
  const dedeScores = new Float64Array(n);
  const components: ContentComponents[] = [];
  const bar = progressLine(`${label}: score`);
  try {
    for (let start = 0; start < n; start += CHUNK) {
      const idx = Array.from({ length: Math.min(CHUNK, n - start) }, (_, i) => start + i);
      // Masks seeded by each file's SHA-256: a file scores the same in any folder, shard or batch.
      const imageSeeds = idx.map((i) => Number.parseInt(encImages.sha256[i]!.slice(0, 8), 16));
      const decoderImages = normalizedBatch(decImages, idx, decPre);
      const emb = embeddings.data.subarray(start * dim, (start + idx.length) * dim);
      let results: ImageScore[];
      if (content) {
        const scored = await content.scoreBatch({ decoderImages, encoderImages: normalizedBatch(encImages, idx, encoder.preprocessing), embeddings: emb }, undefined, { imageSeeds });
        components.push(...scored.map((r) => r.components));
        results = scored.map((r) => r.decoder);
      } else results = await scorer.scoreBatch(decoderImages, emb, undefined, { imageSeeds });
      results.forEach((r, k) => {
        medianErrors[start + k] = r.score;
        dedeScores[start + k] = r.dedeScore;
      });
      bar.update(start + idx.length, n);
    }
  } finally {
    await (content ?? scorer).dispose();
  }
  const seconds = (Date.now() - started) / 1000;
  bar.done(`${n} images in ${seconds.toFixed(1)} s`);
  return {
    paths: encImages.paths,
    scores: typeof scoring === 'object' ? contentScores(components, scoring) : medianErrors,
    medianErrors,
    dedeScores,
    components: withContent ? components : null,
    embeddings,
    fingerprints: fingerprintsOf(encImages),
    unreadable: encImages.unreadable,
    seconds,
  };
}
