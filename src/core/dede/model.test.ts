import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../onnx/builder';
import { evaluate, type Tensor } from '../onnx/interpret';
import { serializeModel } from '../onnx/serialize';
import { defineDecoderConfig, FULL_DECODER, numPatches, presetConfig, SMALL_DECODER, visibleCount, type DecoderConfig } from './config';
import { initDecoderWeights } from './init';
import { keepOneHot, randomKeep, sampleKeepIndices } from './mask';
import { buildDecoderForward, buildDecoderGraph, decoderFeeds, declareDecoderInputs, patchify, unpatchify, type DecoderOutputName } from './model';
import { declareDecoderParams } from './params';
import { mulberry32, normals } from './rng';

interface GoldenCase {
  readonly maskRatio: number;
  readonly keepCount: number;
  readonly keepIndices: number[];
  readonly loss: number;
  readonly pred: number[];
  readonly patchError: number[];
  readonly score: number[];
  readonly pixelErrorSum: number;
  readonly pixelErrorFirstRow: number[];
}

interface Golden {
  readonly config: DecoderConfig;
  readonly paramSeed: number;
  readonly dataSeed: number;
  readonly batch: number;
  readonly paramStats: Record<string, [number, number]>;
  readonly images: number[];
  readonly embedding: number[];
  readonly cases: GoldenCase[];
}

const golden = JSON.parse(readFileSync(new URL('./__golden__/forward_small.json', import.meta.url), 'utf8')) as Golden;
const cfg = defineDecoderConfig(golden.config);
const B = golden.batch;
const T = numPatches(cfg);
const weights = initDecoderWeights(cfg, golden.paramSeed);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs((actual[i] as number) - (expected[i] as number));
    if (!(d <= worst)) [worst, at] = [d, i];
  }
  expect(worst, `${what}: worst |diff| at ${at}`).toBeLessThanOrEqual(tol);
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] as number;
  return s;
}

/** The golden inputs for one case, as host arrays. */
function goldenFeeds(c: GoldenCase): Record<string, Float32Array> {
  const keep = c.keepCount > 0 ? keepOneHot(Int32Array.from(c.keepIndices), B, T, c.keepCount) : null;
  return decoderFeeds({ images: Float32Array.from(golden.images), embedding: Float32Array.from(golden.embedding), keep });
}

function checkAgainstGolden(out: Readonly<Record<string, ArrayLike<number>>>, c: GoldenCase): void {
  const tol = 1e-4;
  expectClose(out.pred as ArrayLike<number>, c.pred, tol, 'pred');
  expectClose(out.loss as ArrayLike<number>, [c.loss], tol, 'loss');
  expectClose(out.patchError as ArrayLike<number>, c.patchError, tol, 'patchError');
  expectClose(out.score as ArrayLike<number>, c.score, 1e-3, 'score'); // a sum of ~700 terms
  const pix = out.pixelError as ArrayLike<number>;
  expectClose([sum(pix)], [c.pixelErrorSum], 1e-2, 'pixelError sum');
  expectClose(Array.from(pix).slice(0, cfg.imageSize), c.pixelErrorFirstRow, tol, 'pixelError first row');
  const masked = out.masked as ArrayLike<number>;
  expect(sum(masked)).toBe(B * (T - c.keepCount));
}

describe('golden inputs and init match the PyTorch reference', () => {
  it('regenerates images, embedding and keep indices from the data seed', () => {
    const rng = mulberry32(golden.dataSeed);
    expectClose(normals(rng, golden.images.length), golden.images, 1e-6, 'images');
    expectClose(normals(rng, golden.embedding.length), golden.embedding, 1e-6, 'embedding');
    for (const c of golden.cases) {
      expect(c.keepCount).toBe(visibleCount(cfg, c.maskRatio));
      expect(Array.from(sampleKeepIndices(B, T, c.keepCount, rng))).toEqual(c.keepIndices);
    }
  });

  it('reproduces every parameter from the param seed', () => {
    expect(Object.keys(weights)).toEqual(Object.keys(golden.paramStats));
    for (const [name, [s, first]] of Object.entries(golden.paramStats)) {
      const w = weights[name] as Float32Array;
      expect(Math.abs(sum(w) - s), `${name} sum`).toBeLessThan(1e-5);
      expect(w[0], `${name}[0]`).toBeCloseTo(first, 7);
    }
  });
});

describe.each(golden.cases.map((c) => [`mask ${c.maskRatio} (Tk = ${c.keepCount})`, c] as const))('forward, %s', (_label, c) => {
  const graph = () => buildDecoderGraph(cfg, { batch: B, maskRatio: c.maskRatio, weights });

  it('matches the golden in the float64 interpreter', () => {
    const res = evaluate(graph().builder.build({ paramsAs: 'initializer' }), goldenFeeds(c));
    const out = Object.fromEntries(Object.entries(res).map(([k, t]: [string, Tensor]) => [k, t.data]));
    checkAgainstGolden(out, c);
  });

  it('matches the golden in onnxruntime-node', async () => {
    const model = graph().builder.toModel({ paramsAs: 'initializer' });
    const session = await ort.InferenceSession.create(serializeModel(model), { intraOpNumThreads: 1 });
    const feeds: Record<string, ort.Tensor> = {};
    const shapes = new Map(model.graph.inputs.map((i) => [i.name, i.shape]));
    for (const [name, data] of Object.entries(goldenFeeds(c))) feeds[name] = new ort.Tensor('float32', data, [...(shapes.get(name) ?? [])]);
    const res = await session.run(feeds);
    await session.release();
    const out = Object.fromEntries(Object.entries(res).map(([k, t]) => [k, t.data as Float32Array]));
    checkAgainstGolden(out, c);
  });
});

describe('the Tk = 0 path (mask 0.99 on few patches)', () => {
  const ratio = 0.99;
  it('has no keep input and no patch-branch parameters', () => {
    const { builder, keepCount } = buildDecoderGraph(cfg, { batch: B, maskRatio: ratio, weights });
    expect(keepCount).toBe(0);
    const g = builder.build({ paramsAs: 'input' });
    const names = g.inputs.map((i) => i.name);
    expect(names).toContain('images');
    expect(names).not.toContain('keep');
    expect(names.filter((n) => n.startsWith('enc.'))).toEqual([]);
    expect(names).toContain('splice.w');
  });

  it('predicts from the embedding alone: the images only enter the target', () => {
    const g = buildDecoderGraph(cfg, { batch: B, maskRatio: ratio, weights, outputs: ['pred'] }).builder.build({ paramsAs: 'initializer' });
    const emb = Float32Array.from(golden.embedding);
    const a = evaluate(g, { images: Float32Array.from(golden.images), embedding: emb }).pred as Tensor;
    const b = evaluate(g, { images: new Float32Array(golden.images.length), embedding: emb }).pred as Tensor;
    expectClose(a.data, b.data, 0, 'pred');
  });

  it('runs the laptop preset at scoring ratio 0.99 on 64 patches', () => {
    const small = presetConfig(SMALL_DECODER, 32);
    expect(visibleCount(small, 0.99)).toBe(0);
    const { builder } = buildDecoderGraph(small, { batch: 1, maskRatio: 0.99, weights: initDecoderWeights(small, 1), outputs: ['score'] });
    const rng = mulberry32(5);
    const out = evaluate(builder.build({ paramsAs: 'initializer' }), { images: normals(rng, 3 * 32 * 32), embedding: normals(rng, 32) });
    expect(out.score?.shape).toEqual([1]);
    expect(out.score?.data[0]).toBeGreaterThan(0);
  });
});

describe('blind rows (an all-zero keep row: training on the embedding alone)', () => {
  it('predict exactly what the Tk = 0 graph predicts, with every patch counted as masked', () => {
    const c = golden.cases.find((k) => k.keepCount > 0) as GoldenCase;
    const keep = keepOneHot(Int32Array.from(c.keepIndices), B, T, c.keepCount);
    const blindRow = 1;
    keep.fill(0, blindRow * c.keepCount * T, (blindRow + 1) * c.keepCount * T);
    const images = Float32Array.from(golden.images);
    const embedding = Float32Array.from(golden.embedding);
    const withKeep = evaluate(buildDecoderGraph(cfg, { batch: B, maskRatio: c.maskRatio, weights, outputs: ['pred', 'masked'] }).builder.build({ paramsAs: 'initializer' }), decoderFeeds({ images, embedding, keep }));
    const blind = evaluate(buildDecoderGraph(cfg, { batch: B, maskRatio: 0.99, weights, outputs: ['pred', 'masked'] }).builder.build({ paramsAs: 'initializer' }), decoderFeeds({ images, embedding, keep: null }));
    const per = T * (withKeep.pred?.shape[2] as number);
    const row = (t: Tensor | undefined, i: number, n: number) => Array.from((t as Tensor).data).slice(i * n, (i + 1) * n);
    expectClose(row(withKeep.pred, blindRow, per), row(blind.pred, blindRow, per), 1e-9, 'blind row pred');
    expect(row(withKeep.masked, blindRow, T)).toEqual(new Array(T).fill(1));
    // The other rows still see their visible patches.
    expect(sum(row(withKeep.masked, 0, T))).toBe(T - c.keepCount);
    expect(Math.max(...row(withKeep.pred, 0, per).map((v, i) => Math.abs(v - (row(blind.pred, 0, per)[i] as number))))).toBeGreaterThan(1e-3);
  });
});

describe('patch layout', () => {
  const b = new GraphBuilder('layout');
  const x = b.input('x', [2, cfg.channels, cfg.imageSize, cfg.imageSize]);
  const patches = patchify(b, x, cfg);
  b.output(patches, 'patches');
  b.output(unpatchify(b, patches, cfg), 'back');
  const img = normals(mulberry32(3), 2 * cfg.channels * cfg.imageSize ** 2);
  const out = evaluate(b.build({ paramsAs: 'initializer' }), { x: img });

  it('round-trips through unpatchify', () => {
    expectClose(out.back?.data ?? [], img, 0, 'unpatchify(patchify(x))');
  });

  it('orders patches row-major with channel-first (c, p1, p2) vectors', () => {
    const [C, H, p, g] = [cfg.channels, cfg.imageSize, cfg.patchSize, cfg.imageSize / cfg.patchSize];
    const P = C * p * p;
    const data = out.patches?.data ?? new Float64Array();
    expect(out.patches?.shape).toEqual([2, T, P]);
    for (const [bi, t, c, p1, p2] of [[0, 0, 0, 0, 0], [1, 5, 2, 3, 1], [0, T - 1, 1, 2, 3], [1, g, 0, 1, 2]] as const) {
      const row = Math.floor(t / g) * p + p1;
      const col = (t % g) * p + p2;
      expect(data[(bi * T + t) * P + c * p * p + p1 * p + p2]).toBe(img[((bi * C + c) * H + row) * H + col]);
    }
  });
});

describe('masks', () => {
  it('randomKeep gives Tk distinct one-hot rows per image, ascending', () => {
    const keep = randomKeep(3, 64, 6, mulberry32(7));
    for (let bi = 0; bi < 3; bi++) {
      const idx: number[] = [];
      for (let i = 0; i < 6; i++) {
        const row = keep.subarray((bi * 6 + i) * 64, (bi * 6 + i + 1) * 64);
        expect(sum(row)).toBe(1);
        idx.push(row.indexOf(1));
      }
      expect(idx).toEqual([...new Set(idx)].sort((a, c) => a - c));
    }
  });
  it('is deterministic for a seed', () => {
    expect(randomKeep(2, 16, 4, mulberry32(1))).toEqual(randomKeep(2, 16, 4, mulberry32(1)));
  });
});

describe('validation', () => {
  it('rejects inconsistent configs with readable messages', () => {
    const base = { ...FULL_DECODER, embedDim: 512 };
    expect(() => defineDecoderConfig({ ...base, imageSize: 30 })).toThrow(/imageSize 30 is not divisible by patchSize 4/);
    expect(() => defineDecoderConfig({ ...base, encDim: 100 })).toThrow(/encDim 100 is not divisible by encHeads 3/);
    expect(() => defineDecoderConfig({ ...base, decHeads: 0, embedDim: 1.5 })).toThrow(/decHeads must be a positive integer.*embedDim must be a positive integer|embedDim.*decHeads/);
    expect(() => defineDecoderConfig({ ...base, encDepth: -1 })).toThrow(/encDepth must be a non-negative integer/);
    expect(() => visibleCount(cfg, 0)).toThrow(/mask ratio must be in \(0, 1\]/);
  });

  it('presets are valid', () => {
    expect(presetConfig(SMALL_DECODER, 512)).toMatchObject({ encDim: 128, encDepth: 1, decDepth: 2, encHeads: 4 });
    expect(presetConfig(FULL_DECODER, 512)).toMatchObject({ encDim: 192, encDepth: 12, decDepth: 4, decHeads: 3 });
    expect(visibleCount(presetConfig(FULL_DECODER, 512), 0.9)).toBe(6);
  });

  it('loads weights strictly', () => {
    const b = new GraphBuilder();
    const { 'dec.mask': _dropped, ...missing } = weights;
    expect(() => declareDecoderParams(b, cfg, missing)).toThrow(/missing dec\.mask/);
    expect(() => declareDecoderParams(b, cfg, { ...weights, 'enc.pos': new Float32Array(3) })).toThrow(/enc\.pos has 3 values, expected \[16,32\]/);
    expect(() => declareDecoderParams(b, cfg, { ...weights, extra: new Float32Array(1) })).toThrow(/unexpected parameter extra/);
  });

  it('checks input shapes against the config', () => {
    const b = new GraphBuilder();
    const params = declareDecoderParams(b, cfg, weights);
    const inputs = declareDecoderInputs(b, { ...cfg, embedDim: 25 }, B, 4);
    expect(() => buildDecoderForward(b, cfg, params, inputs)).toThrow(/embedding \(embedDim\) embedding has shape \[2,25\], expected \[2,24\]/);
    const b2 = new GraphBuilder();
    const noEnc = declareDecoderParams(b2, cfg, weights, { patchBranch: false });
    expect(() => buildDecoderForward(b2, cfg, noEnc, declareDecoderInputs(b2, cfg, B, 4))).toThrow(/need the patch branch/);
  });

  it('rejects a bad batch and unknown outputs are impossible by type', () => {
    const outputs: DecoderOutputName[] = ['loss'];
    expect(() => buildDecoderGraph(cfg, { batch: 0, maskRatio: 0.75, weights, outputs })).toThrow(/batch must be a positive integer/);
  });
});
