import * as ortNode from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_CFG } from '../../testing/train-fixture';
import { evaluate } from '../onnx/interpret';
import { CancelledError } from '../runtime/cancel';
import { createRuntime } from '../runtime/session';
import { numPatches, visibleCount } from './config';
import { initDecoderWeights } from './init';
import { keepOneHot, sampleKeepIndices } from './mask';
import { mulberry32, normals } from './rng';
import { buildScorerModel, Scorer, type ImageScore, type ScorerSettings } from './scorer';
import { median, trimmedMean } from './scores';

const runtime = createRuntime(ortNode, 'cpu');
const cfg = FIXTURE_CFG; // 16×16 images, p = 4: T = 16, so mask 0.99 leaves Tk = 0
const T = numPatches(cfg);
const IMG = cfg.channels * cfg.imageSize ** 2;
const weights = initDecoderWeights(cfg, 3);
const scorers: Scorer[] = [];

async function scorer(settings: ScorerSettings): Promise<Scorer> {
  const s = await Scorer.create(runtime, cfg, weights, settings);
  scorers.push(s);
  return s;
}

afterAll(async () => {
  for (const s of scorers) await s.dispose();
});

function data(n: number, seed: number): { images: Float32Array; embeddings: Float32Array } {
  const rng = mulberry32(seed);
  return { images: normals(rng, n * IMG), embeddings: normals(rng, n * cfg.embedDim) };
}

/** The scoring graph in float64 for a whole set at once; keep indices flat [n·Tk] when Tk > 0. */
function reference(images: Float32Array, embeddings: Float32Array, maskRatio: number, keepIdx?: Int32Array) {
  const n = embeddings.length / cfg.embedDim;
  const Tk = visibleCount(cfg, maskRatio);
  const model = buildScorerModel(cfg, weights, { batch: n, maskRatio });
  const feeds: Record<string, Float32Array> = { images, embedding: embeddings };
  if (keepIdx) feeds.keep = keepOneHot(keepIdx, n, T, Tk);
  const out = evaluate(model.graph, feeds);
  const row = (name: string, i: number, size: number): Float64Array => (out[name]?.data as Float64Array).subarray(i * size, (i + 1) * size);
  return Array.from({ length: n }, (_, i) => ({
    dedeScore: out.dedeScore?.data[i] as number,
    patchError: row('patchError', i, T),
    pixelError: row('pixelError', i, IMG),
  }));
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1e-9;
  let diff = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i] as number));
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
  }
  return diff / scale;
}

describe('scoring graph', () => {
  it('has no keep input and no patch branch when Tk = 0, a keep input otherwise', () => {
    const lean = buildScorerModel(cfg, weights, { batch: 2 });
    expect(lean.graph.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['images', [2, 3, 16, 16]],
      ['embedding', [2, 24]],
    ]);
    expect(lean.graph.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['dedeScore', [2]],
      ['patchError', [2, T]],
      ['pixelError', [2, 3, 16, 16]],
    ]);
    expect(lean.graph.initializers.filter((t) => t.name.startsWith('enc.'))).toEqual([]);
    const withKeep = buildScorerModel(cfg, weights, { batch: 2, maskRatio: 0.75 });
    expect(withKeep.graph.inputs.find((i) => i.name === 'keep')?.shape).toEqual([2, 4, T]);
  });
});

describe('Scorer at mask 0.99 (Tk = 0)', () => {
  const n = 5; // two runs at batch 4: the second one padded
  const { images, embeddings } = data(n, 1);
  const ref = reference(images, embeddings, 0.99);

  it('matches the float64 interpreter: dedeScore, patch errors, pixel map and median', async () => {
    const s = await scorer({ batch: 4, rounds: 8 });
    expect(s.keepCount).toBe(0);
    expect(s.rounds).toBe(1); // nothing random to average
    const res = await s.scoreBatch(images, embeddings, undefined, { pixelError: true });
    expect(res).toHaveLength(n);
    res.forEach((r, i) => {
      const e = ref[i]!;
      expect(Math.abs(r.dedeScore - e.dedeScore) / e.dedeScore).toBeLessThan(1e-5);
      expect(maxRelDiff(r.patchErrors, e.patchError)).toBeLessThan(1e-5);
      expect(maxRelDiff(r.pixelError!, e.pixelError)).toBeLessThan(1e-5);
      expect(Math.abs(r.score - median(e.patchError)) / r.score).toBeLessThan(1e-5);
      // dedeScore is the sum over all (masked) pixels: C·p² × Σ patch means
      expect(r.dedeScore).toBeCloseTo(r.patchErrors.reduce((a, x) => a + x, 0) * cfg.channels * cfg.patchSize ** 2, 2);
    });
  });

  it('uses the trimmed mean when asked, and omits the pixel map unless asked', async () => {
    const s = await scorer({ batch: 8, aggregate: { kind: 'trimmedMean', trim: 0.25 } });
    const res = await s.scoreBatch(images, embeddings);
    res.forEach((r, i) => {
      expect(r.pixelError).toBeUndefined();
      expect(Math.abs(r.score - trimmedMean(ref[i]!.patchError, 0.25)) / r.score).toBeLessThan(1e-5);
    });
  });

  it('ignores the images except as the target: a changed patch only changes its own error', async () => {
    const s = await scorer({ batch: 2 });
    const img = images.slice(0, IMG);
    const emb = embeddings.slice(0, cfg.embedDim);
    const edited = img.slice();
    const [py, px, p, H] = [1, 2, cfg.patchSize, cfg.imageSize]; // patch 1·4 + 2 = 6
    for (let c = 0; c < 3; c++) for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) edited[(c * H + py * p + y) * H + px * p + x] = 3;
    const [a, b] = await s.scoreBatch(Float32Array.from([...img, ...edited]), Float32Array.from([...emb, ...emb]));
    for (let t = 0; t < T; t++) {
      if (t === 6) expect(b!.patchErrors[t]).not.toBe(a!.patchErrors[t]);
      else expect(b!.patchErrors[t], `patch ${t}`).toBe(a!.patchErrors[t]);
    }
  });

  it('rejects inputs whose sizes do not match the config', async () => {
    const s = await scorer({ batch: 2 });
    await expect(s.scoreBatch(images, embeddings.subarray(1))).rejects.toThrow(/not a multiple of embedDim 24/);
    await expect(s.scoreBatch(images.subarray(1), embeddings)).rejects.toThrow(/5 embeddings need 3840 image values/);
  });
});

describe('Scorer with visible patches (Tk > 0)', () => {
  const maskRatio = 0.75; // Tk = 4 of 16
  const Tk = visibleCount(cfg, maskRatio);
  const n = 4;
  const { images, embeddings } = data(n, 2);

  it('matches the interpreter on the same masks and scores only the masked patches', async () => {
    const s = await scorer({ batch: n, maskRatio, rounds: 1 });
    const res = await s.scoreBatch(images, embeddings, mulberry32(7), { pixelError: true });
    const keepIdx = sampleKeepIndices(n, T, Tk, mulberry32(7));
    const ref = reference(images, embeddings, maskRatio, keepIdx);
    res.forEach((r, i) => {
      const kept = new Set(keepIdx.subarray(i * Tk, (i + 1) * Tk));
      const maskedErrors = Array.from(ref[i]!.patchError).filter((_, t) => !kept.has(t));
      expect(Math.abs(r.score - median(maskedErrors)) / r.score).toBeLessThan(1e-5);
      expect(Math.abs(r.dedeScore - ref[i]!.dedeScore) / r.dedeScore).toBeLessThan(1e-5);
      for (let t = 0; t < T; t++) {
        if (kept.has(t)) expect(r.patchErrors[t]).toBeNaN();
        else expect(Math.abs(r.patchErrors[t]! - ref[i]!.patchError[t]!)).toBeLessThan(1e-5 * r.score + 1e-7);
      }
      expect(r.pixelError!.filter(Number.isNaN).length).toBe(Tk * 3 * cfg.patchSize ** 2);
    });
  });

  it('averages R rounds exactly as R single-round calls on the same random stream', async () => {
    const R = 3;
    const avg = await (await scorer({ batch: n, maskRatio, rounds: R })).scoreBatch(images, embeddings, mulberry32(5), { pixelError: true });
    const single = await scorer({ batch: n, maskRatio, rounds: 1 });
    const rng = mulberry32(5);
    const runs: ImageScore[][] = [];
    for (let r = 0; r < R; r++) runs.push(await single.scoreBatch(images, embeddings, rng, { pixelError: true }));
    avg.forEach((a, i) => {
      const mean = (f: (x: ImageScore) => number): number => runs.reduce((acc, run) => acc + f(run[i]!), 0) / R;
      expect(a.score).toBeCloseTo(mean((x) => x.score), 6);
      expect(a.dedeScore).toBeCloseTo(mean((x) => x.dedeScore), 4);
      for (let t = 0; t < T; t++) {
        const seen = runs.map((run) => run[i]!.patchErrors[t]!).filter((e) => !Number.isNaN(e));
        if (seen.length === 0) expect(a.patchErrors[t]).toBeNaN();
        else expect(a.patchErrors[t]).toBeCloseTo(seen.reduce((x, y) => x + y, 0) / seen.length, 6);
      }
    });
  });

  it('is deterministic for a seed and changes with it', async () => {
    const a = await scorer({ batch: 3, maskRatio, rounds: 4, seed: 11 });
    const first = await a.scoreBatch(images, embeddings);
    expect(await a.scoreBatch(images, embeddings)).toEqual(first);
    expect(await a.scoreBatch(images, embeddings, mulberry32(11))).toEqual(first);
    const other = await a.scoreBatch(images, embeddings, mulberry32(12));
    expect(other.map((r) => r.score)).not.toEqual(first.map((r) => r.score));
  });

  it('draws each image\'s masks from its own seed when given imageSeeds: the same score in any batch, order or company', async () => {
    const seeds = [101, 202, 303, 404];
    const one = await scorer({ batch: 1, maskRatio, rounds: 1 });
    const res = await one.scoreBatch(images, embeddings, undefined, { imageSeeds: seeds });
    // The interpreter on image i's own masks: its first draw from mulberry32(seed_i).
    const keepIdx = new Int32Array(n * Tk);
    seeds.forEach((seed, i) => keepIdx.set(sampleKeepIndices(1, T, Tk, mulberry32(seed)), i * Tk));
    const ref = reference(images, embeddings, maskRatio, keepIdx);
    res.forEach((r, i) => expect(Math.abs(r.dedeScore - ref[i]!.dedeScore) / r.dedeScore).toBeLessThan(1e-5));

    const s = await scorer({ batch: 3, maskRatio, rounds: 4 });
    const together = await s.scoreBatch(images, embeddings, undefined, { imageSeeds: seeds });
    // Reversed, in a padded batch: image i still gets its own masks.
    const order = [3, 2, 1, 0];
    const pick = (src: Float32Array, size: number) => {
      const out = new Float32Array(order.length * size);
      order.forEach((j, k) => out.set(src.subarray(j * size, (j + 1) * size), k * size));
      return out;
    };
    const reversed = await s.scoreBatch(pick(images, IMG), pick(embeddings, cfg.embedDim), undefined, { imageSeeds: order.map((j) => seeds[j]!) });
    order.forEach((j, k) => {
      expect(reversed[k]!.score).toBe(together[j]!.score);
      expect(reversed[k]!.dedeScore).toBe(together[j]!.dedeScore);
    });
    // Without seeds, the batch's stream: another image order gives image 0 other masks.
    const plain = await s.scoreBatch(pick(images, IMG), pick(embeddings, cfg.embedDim));
    expect(plain[3]!.score).not.toBeCloseTo(together[0]!.score, 6);
    await expect(s.scoreBatch(images, embeddings, undefined, { imageSeeds: [1, 2] })).rejects.toThrow('Scorer: 2 image seeds for 4 images');
  });

  it('stops with a CancelledError when the signal is aborted', async () => {
    const s = await scorer({ batch: 2, maskRatio, rounds: 2 });
    const ctl = new AbortController();
    ctl.abort(new Error('user cancelled'));
    await expect(s.scoreBatch(images, embeddings, undefined, { signal: ctl.signal })).rejects.toBeInstanceOf(CancelledError);
  });
});

describe('robust score vs a local trigger', () => {
  // Clean images that the decoder reconstructs well from their embedding (its own prediction plus
  // a little noise). A local trigger overwrites two of the 16 patches; a backdoor-like failure
  // (the embedding no longer describes the image) raises the error of every patch.
  const n = 3;
  const { embeddings } = data(n, 4);
  const recon = evaluate(buildScorerModel(cfg, weights, { batch: n, outputs: ['reconstruction'] }).graph, { images: new Float32Array(n * IMG), embedding: embeddings });
  const noise = normals(mulberry32(6), n * IMG, 0.02);
  const clean = Float32Array.from(recon.reconstruction!.data, (v, k) => v + noise[k]!);
  const triggered = clean.slice();
  const [p, H] = [cfg.patchSize, cfg.imageSize];
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 3; c++)
      for (let y = 2 * p; y < 3 * p; y++) for (let x = 2 * p; x < H; x++) triggered[i * IMG + (c * H + y) * H + x] = 2.5; // patches 10 and 11
  const swapped = Float32Array.from(embeddings, (_, k) => embeddings[(k + cfg.embedDim) % embeddings.length]!); // image i gets i+1's embedding

  it('barely moves the median while dedeScore rises; a global failure raises both', async () => {
    const s = await scorer({ batch: n });
    const base = await s.scoreBatch(clean, embeddings);
    const local = await s.scoreBatch(triggered, embeddings);
    const global = await s.scoreBatch(clean, swapped);
    for (let i = 0; i < n; i++) {
      const [b, l, g] = [base[i]!, local[i]!, global[i]!];
      expect(l.dedeScore / b.dedeScore, `image ${i} dedeScore`).toBeGreaterThan(10);
      expect(l.score / b.score, `image ${i} median`).toBeLessThan(1.2);
      expect(g.score / b.score, `image ${i} median, wrong embedding`).toBeGreaterThan(10);
    }
  });
});
