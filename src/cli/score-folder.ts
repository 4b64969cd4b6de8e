// Scores every image of a folder: encoder embeddings, then the decoder at mask ratio 0.99.
import * as ort from 'onnxruntime-node';
import { Scorer, type ScorerSettings } from '../core/dede/scorer';
import { createRuntime } from '../core/runtime/session';
import type { CliDecoder } from './decoder-io';
import type { CliEncoder } from './encoder';
import { atDecoderSize, loadImageFolder, normalizedBatch, type LoadedImages, type Unreadable } from './node-images';
import { atSize } from '../core/workflow/embeddings';
import { pixelFingerprints, type Rows } from '../core/dede/collapse';
import { progressLine } from './progress';
import { embedImages } from './embed-images';

export interface FolderScores {
  readonly paths: readonly string[];
  readonly scores: Float64Array;
  readonly dedeScores: Float64Array;
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

export async function scoreFolder(dir: string, encoder: CliEncoder, decoder: CliDecoder, settings: ScorerSettings, label: string): Promise<FolderScores> {
  if (decoder.meta.encoder?.sha256 && decoder.meta.encoder.sha256 !== encoder.sha256) {
    process.stderr.write(`warning: the decoder was trained with another encoder (sha256 ${decoder.meta.encoder.sha256.slice(0, 12)}…, this one is ${encoder.sha256.slice(0, 12)}…)\n`);
  }
  const started = Date.now();
  const read = progressLine(`${label}: read`);
  const encImages = await loadImageFolder(dir, encoder.preprocessing, (d, t) => read.update(d, t));
  read.done(`${encImages.paths.length} images, ${encImages.unreadable.length} unreadable`);
  return scoreLoadedImages(encImages, encoder, decoder, settings, label, started);
}

/** scoreFolder on images already loaded at the encoder's size (a shard's chunk, say). */
export async function scoreLoadedImages(encImages: LoadedImages, encoder: CliEncoder, decoder: CliDecoder, settings: ScorerSettings, label: string, started = Date.now()): Promise<FolderScores> {
  const runtime = createRuntime(ort, 'cpu');
  const size = decoder.cfg.imageSize;
  const decPre = atSize(encoder.preprocessing, size);
  const decImages = atDecoderSize(encImages, size);

  const embeddings = await embedImages(encImages, encoder, label);
  if (encImages.paths.length > 0 && embeddings.dim !== decoder.cfg.embedDim) throw new Error(`The encoder gives embeddings of size ${embeddings.dim} but the decoder expects ${decoder.cfg.embedDim}: use the encoder it was trained with.`);
  const dim = embeddings.dim;
  const scorer = await Scorer.create(runtime, decoder.cfg, decoder.weights, settings);
  const n = encImages.paths.length;
  const scores = new Float64Array(n);
  const dedeScores = new Float64Array(n);
  const bar = progressLine(`${label}: score`);
  try {
    for (let start = 0; start < n; start += CHUNK) {
      const idx = Array.from({ length: Math.min(CHUNK, n - start) }, (_, i) => start + i);
      // Masks seeded by each file's SHA-256: a file scores the same in any folder, shard or batch.
      const imageSeeds = idx.map((i) => Number.parseInt(encImages.sha256[i]!.slice(0, 8), 16));
      const results = await scorer.scoreBatch(normalizedBatch(decImages, idx, decPre), embeddings.data.subarray(start * dim, (start + idx.length) * dim), undefined, { imageSeeds });
      results.forEach((r, k) => {
        scores[start + k] = r.score;
        dedeScores[start + k] = r.dedeScore;
      });
      bar.update(start + idx.length, n);
    }
  } finally {
    await scorer.dispose();
  }
  const seconds = (Date.now() - started) / 1000;
  bar.done(`${n} images in ${seconds.toFixed(1)} s`);
  return {
    paths: encImages.paths,
    scores,
    dedeScores,
    embeddings,
    fingerprints: fingerprintsOf(encImages),
    unreadable: encImages.unreadable,
    seconds,
  };
}
