import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../../testing/tiny-encoder';
import { vitModelBytes } from '../../testing/hf-encoders';
import { defineDecoderConfig } from '../dede/config';
import { importDecoder } from '../dede/decoder-file';
import { encoderSource } from '../dede/encoder-runner';
import { preprocessingFromHf } from '../images/preprocess';
import { createRuntime } from '../runtime/session';
import { decoderInputs, embeddingsPath, ensureEmbeddings, type PixelSource } from './embeddings';
import { heldBackPoint } from '../dede/convergence';
import { Scorer } from '../dede/scorer';
import { MemoryFileStore } from './files';
import { readCheckpoint, runPaths, runTraining, splitSlots, type RunProgress } from './training-run';
import { fusedVerdict } from './verdict';

const runtime = createRuntime(ortNode, 'cpu');
const preprocessing = preprocessingFromHf(JSON.parse(new TextDecoder().decode(PREPROCESSOR_CONFIG)), null);
const encoder = {
  name: 'tiny.onnx',
  ...encoderSource({ bytes: tinyEncoderBytes(), inputName: 'pixel_values', readout: { output: 'embedding', pooling: 'none' }, height: 32, width: 32, fixedBatch: null }, 'e'.repeat(64)),
};

function source(count: number): PixelSource & { reads: number } {
  const bytes = Uint8Array.from({ length: count * 32 * 32 * 3 }, (_, i) => (Math.sin(i * 0.013) * 120 + 128) | 0);
  const s = {
    id: 'ds-1', count, width: 32, height: 32, reads: 0,
    async readRgb(from: number, n: number) {
      s.reads++;
      return bytes.slice(from * 3072, (from + n) * 3072);
    },
  };
  return s;
}

const cfg = defineDecoderConfig({ imageSize: 32, patchSize: 8, embedDim: 128, encDim: 32, encDepth: 1, encHeads: 2, decDim: 32, decDepth: 1, decHeads: 2 });
const plan = { cfg, batchSize: 8, maskRatio: 0.75, blindShare: 0, lr: 2e-3, epochs: 4, minutes: null, seed: 3, readLossEvery: 1, checkpointEvery: 2 };

describe('splitSlots', () => {
  it('is a seeded, disjoint, complete split', () => {
    const a = splitSlots(50, 0.2, 1);
    expect(a.heldOut).toHaveLength(10);
    expect([...a.train, ...a.heldOut].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(splitSlots(50, 0.2, 1)).toEqual(a);
    expect(splitSlots(50, 0.2, 2).heldOut).not.toEqual(a.heldOut);
  });
});

describe('workflow training run', () => {
  it('caches embeddings per encoder and image set', async () => {
    const files = new MemoryFileStore();
    const src = source(20);
    const first = await ensureEmbeddings(runtime, files, encoder, src, preprocessing);
    const reads = src.reads;
    const progress: boolean[] = [];
    const second = await ensureEmbeddings(runtime, files, encoder, src, preprocessing, { onProgress: (p) => progress.push(p.cached) });
    expect(src.reads).toBe(reads);
    expect(progress).toEqual([true]);
    expect(second.data).toEqual(first.data);
    expect(first.dim).toBe(128);
    expect(files.paths()).toEqual([embeddingsPath(encoder.sha256, encoder.spec.readout, src)]);
  });

  it('keys the cache by the readout: another output or pooling embeds again, the same one reads back', async () => {
    const files = new MemoryFileStore();
    const src = source(6);
    const vit = (pooling: 'cls' | 'patch-mean') => encoderSource({ ...encoder.spec, bytes: vitModelBytes(), readout: { output: 'last_hidden_state', pooling } }, 'a'.repeat(64));
    const cls = await ensureEmbeddings(runtime, files, vit('cls'), src, preprocessing);
    const mean = await ensureEmbeddings(runtime, files, vit('patch-mean'), src, preprocessing);
    const cached: boolean[] = [];
    const again = await ensureEmbeddings(runtime, files, vit('cls'), src, preprocessing, { onProgress: (p) => cached.push(p.cached) });
    expect([cls.dim, mean.dim]).toEqual([16, 16]);
    expect(mean.data).not.toEqual(cls.data);
    expect(again.data).toEqual(cls.data);
    expect(cached).toEqual([true]);
    expect(files.paths().sort()).toEqual([
      embeddingsPath('a'.repeat(64), { output: 'last_hidden_state', pooling: 'cls' }, src),
      embeddingsPath('a'.repeat(64), { output: 'last_hidden_state', pooling: 'patch-mean' }, src),
    ].sort());
  });

  it('pauses with a checkpoint, resumes, and writes a decoder file that imports strictly', async () => {
    const files = new MemoryFileStore();
    const src = source(40);
    const { train } = splitSlots(src.count, 0.2, 0);
    const controller = new AbortController();
    const request = { runId: 'run-1', encoder, source: src, trainSlots: train, preprocessing, plan, resume: false };
    const phases = new Set<string>();
    const paused = await runTraining(runtime, files, request, {
      signal: controller.signal,
      onProgress: (p: RunProgress) => {
        phases.add(p.phase);
        if (p.phase === 'train' && p.step === 5) controller.abort();
      },
    });
    expect([...phases]).toEqual(['embed', 'train']);
    expect(paused).toMatchObject({ stoppedBy: 'cancel', steps: 5, decoderPath: null });
    expect(await files.read(runPaths('run-1').checkpoint)).not.toBeNull();

    const done = await runTraining(runtime, files, { ...request, resume: true });
    expect(done).toMatchObject({ stoppedBy: 'epochs', steps: 16, resumedFromStep: 5, decoderPath: runPaths('run-1').decoder });
    const decoder = importDecoder((await files.read(done.decoderPath!))!);
    expect(decoder.cfg).toEqual(cfg);
    expect(decoder.meta.encoder).toEqual({ name: 'tiny.onnx', sha256: encoder.sha256, output: 'embedding', readout: { output: 'embedding', pooling: 'none', dim: 128 } });
    expect(decoder.meta.training.steps).toBe(16);

    // A resume with other settings is refused rather than mixing runs.
    await expect(runTraining(runtime, files, { ...request, resume: true, plan: { ...plan, lr: 1e-2 } })).rejects.toThrow(/other settings/);
  });

  it('takes the empty file a crash leaves mid first save as no checkpoint, and a damaged one as an error', async () => {
    const files = new MemoryFileStore();
    const src = source(40);
    const { train } = splitSlots(src.count, 0.2, 0);
    const request = { runId: 'run-2', encoder, source: src, trainSlots: train, preprocessing, plan, resume: true };
    await files.write(runPaths('run-2').checkpoint, new Uint8Array(0));
    expect(await readCheckpoint(files, 'run-2')).toBeNull();
    expect(await runTraining(runtime, files, request)).toMatchObject({ stoppedBy: 'epochs', steps: 16, resumedFromStep: null });
    await files.write(runPaths('run-2').checkpoint, new Uint8Array([1, 2, 3]));
    await expect(runTraining(runtime, files, request)).rejects.toThrow(/DeDe checkpoint header/);
  });

  it('scores the held-back images at every epoch end, as a scorer of the final weights does, and records why it stopped', async () => {
    const files = new MemoryFileStore();
    const src = source(40);
    const { train, heldOut } = splitSlots(src.count, 0.2, 0);
    const done = await runTraining(runtime, files, { runId: 'run-3', encoder, source: src, trainSlots: train, preprocessing, plan, resume: false, heldBackSlots: heldOut });
    expect(done.heldBack.map((p) => p.epoch)).toEqual([1, 2, 3, 4]);
    expect(done).toMatchObject({ stoppedBy: 'epochs', convergedAt: null });
    // The last point, recomputed from the decoder file: the same images, weights and masks.
    const decoder = importDecoder((await files.read(done.decoderPath!))!);
    const emb = await ensureEmbeddings(runtime, files, encoder, src, preprocessing);
    const images = await decoderInputs(src, heldOut, preprocessing, cfg.imageSize);
    const e = new Float32Array(heldOut.length * emb.dim);
    heldOut.forEach((slot, k) => e.set(emb.data.subarray(slot * emb.dim, (slot + 1) * emb.dim), k * emb.dim));
    const scorer = await Scorer.create(runtime, cfg, decoder.weights, { batch: 16 });
    const expected = heldBackPoint(4, (await scorer.scoreBatch(images, e)).map((r) => r.score));
    await scorer.dispose();
    expect(done.heldBack[3]!.loss).toBeCloseTo(expected.loss, 5);
    expect(done.heldBack[3]!.quantile).toBeCloseTo(expected.quantile, 5);
    expect(decoder.meta.training).toMatchObject({ stoppedBy: 'epochs', heldBackLoss: done.heldBack[3]!.loss });
    expect(decoder.meta.training.convergedAtEpoch).toBeUndefined();
    // A rule that any run meets at its minimum: it stops there, and the file says so.
    const stopped = await runTraining(runtime, files, { runId: 'run-4', encoder, source: src, trainSlots: train, preprocessing, plan: { ...plan, convergence: { window: 1, tolerance: 0.99, minEpochs: 2 } }, resume: false, heldBackSlots: heldOut });
    expect(stopped).toMatchObject({ stoppedBy: 'converged', convergedAt: 2, steps: 8 });
    expect(importDecoder((await files.read(stopped.decoderPath!))!).meta.training).toMatchObject({ stoppedBy: 'converged', convergedAtEpoch: 2 });
  });

  it('embeds the scan folders between epochs, so the scan finds them cached; one it cannot embed is left to the scan', async () => {
    const files = new MemoryFileStore();
    const src = source(40);
    const suspect = { ...source(100), id: 'ds-suspect' };
    const wrongSize = { ...source(4), id: 'ds-64', width: 64, height: 64 };
    const { train } = splitSlots(src.count, 0.2, 0);
    const seen: RunProgress[] = [];
    const done = await runTraining(runtime, files, { runId: 'run-5', encoder, source: src, trainSlots: train, preprocessing, plan, resume: false, prefetch: [wrongSize, suspect] }, { onProgress: (p) => seen.push(p) });
    expect(done).toMatchObject({ stoppedBy: 'epochs', steps: 16 });
    // Three epoch ends before the last: the bad folder is skipped, then the two chunks of the other.
    expect(seen.filter((p) => p.phase === 'prefetch').at(-1)).toEqual({ phase: 'prefetch', source: 'ds-suspect', done: 100, total: 100, finished: 1, folders: 2 });
    const cached: boolean[] = [];
    const fromCache = await ensureEmbeddings(runtime, files, encoder, suspect, preprocessing, { onProgress: (p) => cached.push(p.cached) });
    expect(cached).toEqual([true]);
    expect(fromCache.data).toEqual((await ensureEmbeddings(runtime, new MemoryFileStore(), encoder, suspect, preprocessing)).data);
    expect(await files.read(embeddingsPath(encoder.sha256, encoder.spec.readout, wrongSize))).toBeNull();
  });

  it("decides the verdict's collapse gate once every scan folder is embedded, as the scan's verdict will", async () => {
    const files = new MemoryFileStore();
    const src = source(40);
    const suspect = { ...source(30), id: 'ds-suspect' };
    const { train } = splitSlots(src.count, 0.2, 0);
    const seen: RunProgress[] = [];
    await runTraining(runtime, files, { runId: 'run-6', encoder, source: src, trainSlots: train, preprocessing, plan, resume: false, prefetch: [suspect] }, { onProgress: (p) => seen.push(p) });
    const gates = seen.flatMap((p) => (p.phase === 'collapse' ? [p.gate] : []));
    expect(gates).toHaveLength(1);
    const verdict = await fusedVerdict(runtime, files, { encoder, folders: [suspect], decoderScores: Array.from({ length: 30 }, (_, i) => i), clean: src, cleanDecoderScores: Array.from({ length: 40 }, (_, i) => i), preprocessing, targetFpr: 0.2 });
    expect(gates[0]).toEqual(verdict.gate);
  });
});
