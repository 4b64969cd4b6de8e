import * as ortNode from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_CFG } from '../../testing/train-fixture';
import { evaluate } from '../onnx/interpret';
import { createRuntime } from '../runtime/session';
import { initDecoderWeights } from './init';
import { applyContrastMap, clusterEmbeddings, decodeEmbeddings, fitContrastMap, gatherRows, MAX_CONTRAST_GAIN, MeanMap, meanPixelError, revealTargets, triggerMap } from './reveal';
import { mulberry32, normal, normals } from './rng';
import { buildScorerModel, Scorer } from './scorer';

const runtime = createRuntime(ortNode, 'cpu');
const cfg = FIXTURE_CFG; // 16×16 images, p = 4, embedDim 24: at mask 0.99 no patch is visible
const d = cfg.embedDim;
const H = cfg.imageSize;
const SIZE = cfg.channels * H * H;
const weights = initDecoderWeights(cfg, 5);
const scorers: Scorer[] = [];

afterAll(async () => {
  for (const s of scorers) await s.dispose();
});

/** n embeddings, the first `planted` of them on one target (cosine ≈ 0.99), the rest spread out. */
function plantedFolder(n: number, planted: number, seed: number) {
  const rng = mulberry32(seed);
  const target = normals(rng, d);
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < d; t++) data[i * d + t] = i < planted ? 1.5 * ((target[t] as number) + 0.08 * normal(rng)) : normal(rng);
  }
  return { embeddings: { data, dim: d }, target };
}

describe('clusterEmbeddings', () => {
  it('finds the planted cluster among flagged images, with its mean raw embedding', () => {
    const { embeddings } = plantedFolder(80, 25, 1);
    // Flagged: the 25 planted images and 10 clean false positives.
    const flagged = [...Array.from({ length: 25 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 40 + i)];
    const clusters = clusterEmbeddings(embeddings, flagged);
    expect(clusters).toHaveLength(1);
    const [c] = clusters;
    expect(Array.from(c?.members ?? [])).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(c?.cohesion).toBeGreaterThan(0.99);
    const mean = Array.from({ length: d }, (_, t) => Array.from({ length: 25 }, (_, i) => embeddings.data[i * d + t] as number).reduce((a, v) => a + v, 0) / 25);
    expect(Array.from(c?.meanEmbedding ?? [])).toEqual(mean.map((v) => expect.closeTo(v, 5)));
    // Deterministic, whatever the visiting order; singletons are dropped unless allowed.
    const reordered = clusterEmbeddings(embeddings, [...flagged].reverse(), {}, Float64Array.from({ length: 80 }, (_, i) => i));
    expect(reordered.map((r) => Array.from(r.members))).toEqual(clusters.map((r) => Array.from(r.members)));
    expect(reordered[0]?.cohesion).toBeCloseTo(c?.cohesion as number, 12);
    expect(clusterEmbeddings(embeddings, flagged, { minClusterSize: 1 }).length).toBe(11);
    expect(() => clusterEmbeddings(embeddings, [80])).toThrow(/out of range/);
  });

  it('separates two planted targets', () => {
    const a = plantedFolder(30, 30, 2).embeddings.data;
    const b = plantedFolder(20, 20, 3).embeddings.data;
    const embeddings = { data: Float32Array.from([...a, ...b]), dim: d };
    const clusters = clusterEmbeddings(embeddings, Array.from({ length: 50 }, (_, i) => i));
    expect(clusters.map((c) => c.members.length)).toEqual([30, 20]);
    expect(clusters[1]?.members[0]).toBe(30);
  });
});

describe('decoding and trigger maps', () => {
  it('decodes a mean embedding exactly as the scoring graph reconstructs it (no visible patch)', async () => {
    const { embeddings } = plantedFolder(40, 12, 4);
    const [cluster] = clusterEmbeddings(embeddings, Array.from({ length: 12 }, (_, i) => i));
    const mean = cluster?.meanEmbedding as Float32Array;
    const decoded = await decodeEmbeddings(runtime, cfg, weights, mean);
    // Reference: the scoring graph at mask 0.99 (Tk = 0) in float64, with a dummy image.
    const ref = evaluate(buildScorerModel(cfg, weights, { batch: 1, outputs: ['reconstruction'] }).graph, { images: normals(mulberry32(9), SIZE), embedding: mean });
    const want = ref.reconstruction?.data as Float64Array;
    expect(decoded.length).toBe(SIZE);
    let maxDiff = 0;
    for (let k = 0; k < SIZE; k++) maxDiff = Math.max(maxDiff, Math.abs((decoded[k] as number) - (want[k] as number)));
    expect(maxDiff).toBeLessThan(1e-4);
    // Batched decoding agrees with one at a time.
    const two = await decodeEmbeddings(runtime, cfg, weights, Float32Array.from([...mean, ...embeddings.data.subarray(30 * d, 31 * d)]));
    expect(Array.from(two.subarray(0, SIZE))).toEqual(Array.from(decoded).map((v) => expect.closeTo(v, 5)));
  });

  it('peaks inside the region where the cluster has higher errors than clean images', async () => {
    const n = 48;
    const planted = 16;
    const { embeddings } = plantedFolder(n, planted, 6);
    // Images = what the decoder draws for their own embedding + small noise, so the error is small
    // everywhere; the planted (triggered) images also carry a bright 4×4 stamp at rows/cols 8–11.
    const recon = await decodeEmbeddings(runtime, cfg, weights, embeddings.data);
    const rng = mulberry32(7);
    const images = Float32Array.from(recon, (v) => v + 0.1 * normal(rng));
    for (let i = 0; i < planted; i++)
      for (let c = 0; c < cfg.channels; c++)
        for (let y = 8; y < 12; y++) for (let x = 8; x < 12; x++) images[i * SIZE + (c * H + y) * H + x] = (images[i * SIZE + (c * H + y) * H + x] as number) + 3;
    const scorer = await Scorer.create(runtime, cfg, weights, { batch: 8 });
    scorers.push(scorer);
    const clean = Array.from({ length: n - planted }, (_, i) => planted + i);
    const cleanPixelError = await meanPixelError(scorer, gatherRows(images, SIZE, clean), gatherRows(embeddings.data, d, clean), { chunk: 5 });
    const flagged = [...Array.from({ length: planted }, (_, i) => i), 20, 30];
    const targets = await revealTargets({ runtime, cfg, weights, scorer }, { embeddings, flagged, images, cleanPixelError });
    expect(targets).toHaveLength(1);
    const [t] = targets;
    expect(t?.members.length).toBe(planted);
    expect(t?.target).toEqual(await decodeEmbeddings(runtime, cfg, weights, t?.meanEmbedding as Float32Array));
    const peak = t?.triggerMap?.peak;
    expect(peak?.y).toBeGreaterThanOrEqual(8);
    expect(peak?.y).toBeLessThan(12);
    expect(peak?.x).toBeGreaterThanOrEqual(8);
    expect(peak?.x).toBeLessThan(12);
    expect(peak?.value).toBeGreaterThan(5);
    // Without images there is no map, but the target is still decoded.
    const bare = await revealTargets({ runtime, cfg, weights }, { embeddings, flagged });
    expect(bare[0]?.triggerMap).toBeNull();
    expect(bare[0]?.target).toEqual(t?.target);
  });

  it('trigger map arithmetic and NaN-aware means', () => {
    const shape = { channels: 2, height: 2, width: 3 };
    const cluster = Float32Array.from([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 10]);
    const cleanMap = new Float32Array(12).fill(1);
    const m = triggerMap(cluster, cleanMap, shape);
    expect(Array.from(m.map)).toEqual([0, 1, 2, 3, 4, 7]);
    expect(m.peak).toEqual({ y: 1, x: 2, value: 7 });
    const acc = new MeanMap(3);
    acc.add([1, Number.NaN, 3]);
    acc.add([3, Number.NaN, 5]);
    expect(Array.from(acc.mean())).toEqual([2, Number.NaN, 4]);
    expect(() => triggerMap(cluster, new Float32Array(3), shape)).toThrow(/2×2×3/);
  });
});

describe('contrast maps', () => {
  /** Per-pixel mean and population standard deviation of n rows of `size`. */
  function moments(rows: Float32Array, size: number) {
    const n = rows.length / size;
    const mean = Array.from({ length: size }, (_, k) => Array.from({ length: n }, (_, i) => rows[i * size + k] as number).reduce((a, v) => a + v, 0) / n);
    const std = mean.map((m, k) => Math.sqrt(Array.from({ length: n }, (_, i) => ((rows[i * size + k] as number) - m) ** 2).reduce((a, v) => a + v, 0) / n));
    return { mean, std };
  }

  it('sends the clean decodes onto the clean images’ per-pixel mean and spread', () => {
    const size = 6;
    const n = 50;
    const rng = mulberry32(11);
    const images = normals(rng, n * size).map((v, i) => 2 * v + (i % size) - 1); // pixel k: mean k − 1, std 2
    // The decodes: a shrunk, shifted copy of the images plus a little noise (a washed-out picture).
    const decoded = Float32Array.from(images, (v) => 0.3 * v + 0.5 + 0.05 * normal(rng));
    const map = fitContrastMap(images, decoded, size);
    const restored = applyContrastMap(decoded, map);
    const want = moments(images, size);
    const got = moments(restored, size);
    got.mean.forEach((m, k) => expect(m).toBeCloseTo(want.mean[k] as number, 4));
    got.std.forEach((s, k) => expect(s).toBeCloseTo(want.std[k] as number, 4));
    // Restoring brings a decode closer to its own image than the washed-out decode was.
    const mse = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((acc, v, k) => acc + (v - (b[k] as number)) ** 2, 0) / a.length;
    expect(mse(restored, images)).toBeLessThan(0.2 * mse(decoded, images));
  });

  it('caps the gain where the decodes barely vary, and names bad shapes', () => {
    const images = Float32Array.from([0, 0, 2, 10]); // 2 images of 2 pixels: means 1 and 5, spreads 1 and 5
    const flat = Float32Array.from([1, 5, 1, 5.02]); // pixel 0 constant, pixel 1 almost (gain 500 uncapped)
    const map = fitContrastMap(images, flat, 2);
    const out = applyContrastMap(Float32Array.from([3, 6]), map);
    expect(out[0]).toBe(1); // no spread: the clean mean
    expect(out[1]).toBeCloseTo(5 + MAX_CONTRAST_GAIN * (6 - 5.01), 4);
    expect(() => fitContrastMap(images, flat.subarray(0, 2), 2)).toThrow(/at least 2 clean images/);
    expect(() => applyContrastMap(new Float32Array(3), map)).toThrow(/whole number/);
  });

  it('reveals targets through the map when one is given', async () => {
    const { embeddings } = plantedFolder(40, 12, 12);
    const flagged = Array.from({ length: 12 }, (_, i) => i);
    const clean = gatherRows(embeddings.data, d, Array.from({ length: 20 }, (_, i) => 20 + i));
    const cleanImages = normals(mulberry32(13), 20 * SIZE);
    const contrast = fitContrastMap(cleanImages, await decodeEmbeddings(runtime, cfg, weights, clean), SIZE);
    const [plain] = await revealTargets({ runtime, cfg, weights }, { embeddings, flagged });
    const [restored] = await revealTargets({ runtime, cfg, weights }, { embeddings, flagged, contrast });
    expect(plain?.contrastRestored).toBe(false);
    expect(restored?.contrastRestored).toBe(true);
    expect(Array.from(restored?.target ?? [])).toEqual(Array.from(applyContrastMap(plain?.target as Float32Array, contrast)));
  });
});
