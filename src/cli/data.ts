// Images + their cached encoder embeddings as a TrainingData source for the decoder loop.
import type { Preprocessing } from '../core/images/preprocess';
import type { TrainingData } from '../core/dede/train-loop';
import { normalizedBatch, type LoadedImages } from './node-images';

export function trainingData(images: LoadedImages, decoderPreprocessing: Preprocessing, embeddings: Float32Array, dim: number): TrainingData {
  const n = images.paths.length;
  if (embeddings.length !== n * dim) throw new Error(`Expected ${n} embeddings of ${dim}, got ${embeddings.length / dim}.`);
  return {
    count: n,
    async batch(indices) {
      const emb = new Float32Array(indices.length * dim);
      indices.forEach((idx, k) => emb.set(embeddings.subarray(idx * dim, (idx + 1) * dim), k * dim));
      return { images: normalizedBatch(images, indices, decoderPreprocessing), embeddings: emb };
    },
  };
}
