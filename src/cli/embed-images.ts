// The encoder over a loaded folder, each image embedded once per encoder setting: embeddings kept
// in the on-disk cache (embedding-cache.ts) are reused, only the others run through the encoder.
import * as ort from 'onnxruntime-node';
import { EncoderRunner } from '../core/dede/encoder-runner';
import type { Rows } from '../core/dede/collapse';
import { createRuntime } from '../core/runtime/session';
import { readoutKey } from '../core/onnx/readout';
import type { CliEncoder } from './encoder';
import { EmbeddingCache, embeddingCacheDir } from './embedding-cache';
import { normalizedBatch, type LoadedImages } from './node-images';
import { progressLine } from './progress';

const CHUNK = 256;

/** Everything an embedding depends on besides the image: the cache key. */
export function embeddingKey(encoder: CliEncoder): Record<string, unknown> {
  const p = encoder.preprocessing;
  return {
    encoder: encoder.sha256,
    readout: readoutKey(encoder.readout),
    size: [p.height, p.width],
    resize: p.resize?.description ?? null,
    rescale: p.rescale,
    mean: p.mean,
    std: p.std,
  };
}

export async function embedImages(images: LoadedImages, encoder: CliEncoder, label: string): Promise<Rows> {
  const cache = await EmbeddingCache.open(embeddingCacheDir(), embeddingKey(encoder));
  const n = images.paths.length;
  const missing = images.sha256.map((sha, i) => (cache.get(sha) ? -1 : i)).filter((i) => i >= 0);
  const bar = progressLine(`${label}: embed`);
  if (missing.length > 0) {
    const runner = await EncoderRunner.create(createRuntime(ort, encoder.device.used), encoder.spec);
    try {
      for (let start = 0; start < missing.length; start += CHUNK) {
        const idx = missing.slice(start, start + CHUNK);
        const { dim, data } = await runner.embed(normalizedBatch(images, idx, encoder.preprocessing), idx.length);
        idx.forEach((i, k) => cache.put(images.sha256[i]!, data.subarray(k * dim, (k + 1) * dim)));
        bar.update(start + idx.length, missing.length);
      }
    } finally {
      await runner.dispose();
    }
    const note = await cache.flush();
    if (note) process.stderr.write(`note: ${note}\n`);
  }
  const dim = cache.dim ?? 0;
  const data = new Float32Array(n * dim);
  images.sha256.forEach((sha, i) => data.set(cache.get(sha)!, i * dim));
  bar.done(`${n} embeddings of size ${dim}${n - missing.length > 0 ? ` (${n - missing.length} from the cache)` : ''}`);
  return { data, dim };
}
