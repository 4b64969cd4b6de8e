import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../../testing/tiny-encoder';
import { encoderSource } from '../dede/encoder-runner';
import { preprocessingFromHf } from '../images/preprocess';
import { createRuntime } from '../runtime/session';
import { embeddingsPath, ensureEmbeddings, type PixelSource } from './embeddings';
import { MemoryFileStore } from './files';
import { EmbeddingPrefetch, PREFETCH_SHARE, type PrefetchProgress } from './prefetch';

const runtime = createRuntime(ortNode, 'cpu');
const preprocessing = preprocessingFromHf(JSON.parse(new TextDecoder().decode(PREPROCESSOR_CONFIG)), null);
const encoder = encoderSource({ bytes: tinyEncoderBytes(), inputName: 'pixel_values', readout: { output: 'embedding', pooling: 'none' }, height: 32, width: 32, fixedBatch: null }, 'e'.repeat(64));

function source(id: string, count: number, side = 32): PixelSource {
  const bytes = Uint8Array.from({ length: count * side * side * 3 }, (_, i) => (Math.cos(i * 0.011) * 110 + 128) | 0);
  return { id, count, width: side, height: side, readRgb: async (from, n) => bytes.slice(from * side * side * 3, (from + n) * side * side * 3) };
}

describe('EmbeddingPrefetch', () => {
  it('spends at most its share of the last epoch on chunks (at least one), and leaves each folder cached as a direct embedding would', async () => {
    expect(PREFETCH_SHARE).toBe(0.25);
    const files = new MemoryFileStore();
    const big = source('suspect', 5 * 64 + 10); // six chunks of 64
    const small = source('poisoned', 20);
    let t = 0;
    const seen: PrefetchProgress[] = [];
    // Every chunk "takes" 100 ms on this clock.
    const prefetch = new EmbeddingPrefetch(runtime, files, encoder, [big, small], preprocessing, (p) => { seen.push(p); t += 100; }, () => t);
    t = 1000; // the first epoch took 1 s: 250 ms of chunks, the third one ends past it
    await prefetch.betweenEpochs();
    expect(seen.map((p) => p.done)).toEqual([64, 128, 192]);
    t += 100; // a 100-ms epoch: a 25-ms budget still runs one chunk
    await prefetch.betweenEpochs();
    expect(seen.map((p) => p.done)).toEqual([64, 128, 192, 256]);
    expect(prefetch.pending).toBe(2);
    for (let i = 0; i < 4 && prefetch.pending > 0; i++) {
      t += 1000;
      await prefetch.betweenEpochs();
    }
    expect(prefetch.pending).toBe(0);
    expect(seen.at(-1)).toEqual({ source: 'poisoned', done: 20, total: 20, finished: 2, folders: 2 });
    expect(seen.filter((p) => p.source === 'suspect').at(-1)).toEqual({ source: 'suspect', done: 330, total: 330, finished: 1, folders: 2 });
    await prefetch.dispose();
    for (const s of [big, small]) {
      const cached: boolean[] = [];
      const fromCache = await ensureEmbeddings(runtime, files, encoder, s, preprocessing, { onProgress: (p) => cached.push(p.cached) });
      expect(cached).toEqual([true]);
      expect(fromCache.data).toEqual((await ensureEmbeddings(runtime, new MemoryFileStore(), encoder, s, preprocessing)).data);
    }
  });

  it('skips a folder it cannot embed (the scan will say why) and never throws; a cached one costs nothing', async () => {
    const files = new MemoryFileStore();
    const ok = source('ok', 10);
    await ensureEmbeddings(runtime, files, encoder, ok, preprocessing);
    const wrong = source('big-photos', 4, 64); // stored at 64 px, the encoder takes 32
    const seen: PrefetchProgress[] = [];
    const prefetch = new EmbeddingPrefetch(runtime, files, encoder, [wrong, ok], preprocessing, (p) => seen.push(p));
    await prefetch.betweenEpochs();
    await prefetch.betweenEpochs();
    expect(prefetch.pending).toBe(0);
    expect(prefetch.skipped.map((s) => s.source)).toEqual(['big-photos']);
    expect(String(prefetch.skipped[0]!.reason)).toMatch(/stored at 64×64 but 32×32 is needed/);
    expect(seen).toEqual([{ source: 'ok', done: 10, total: 10, finished: 1, folders: 2 }]);
    expect(files.paths()).toEqual([embeddingsPath(encoder.sha256, encoder.spec.readout, ok)]);
  });

  it('stops between chunks once the run is paused', async () => {
    const files = new MemoryFileStore();
    const controller = new AbortController();
    controller.abort();
    const seen: PrefetchProgress[] = [];
    const prefetch = new EmbeddingPrefetch(runtime, files, encoder, [source('s', 100)], preprocessing, (p) => seen.push(p));
    await prefetch.betweenEpochs(controller.signal);
    expect(seen).toEqual([]);
    expect(prefetch.pending).toBe(1);
  });
});
