// The loss's gradient reaches every parameter, and matches PyTorch's autograd on the whole model
// (per-parameter sum and L2 norm stored in the golden file by scripts/reference/dede_torch.py).

import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { gradients } from '../autograd/gradients';
import { evaluate } from '../onnx/interpret';
import { serializeModel } from '../onnx/serialize';
import { defineDecoderConfig, numPatches, type DecoderConfig } from './config';
import { initDecoderWeights } from './init';
import { keepOneHot } from './mask';
import { buildDecoderGraph, decoderFeeds } from './model';

interface GoldenGrad {
  readonly config: DecoderConfig;
  readonly paramSeed: number;
  readonly batch: number;
  readonly gradStats: Record<string, [number, number]>;
  readonly images: number[];
  readonly embedding: number[];
  readonly cases: { readonly maskRatio: number; readonly keepCount: number; readonly keepIndices: number[] }[];
}

const golden = JSON.parse(readFileSync(new URL('./__golden__/forward_small.json', import.meta.url), 'utf8')) as GoldenGrad;

/** The golden model with d loss / d param declared as outputs `grad.<name>`, params as inputs. */
function gradientGraph() {
  const cfg = defineDecoderConfig(golden.config);
  const c = golden.cases[0];
  if (!c || c.keepCount === 0) throw new Error('golden case 0 must have visible patches');
  const { builder: b, loss } = buildDecoderGraph(cfg, {
    batch: golden.batch,
    maskRatio: c.maskRatio,
    weights: initDecoderWeights(cfg, golden.paramSeed),
    outputs: ['loss'],
  });
  const params = b.params.map((p) => p.value);
  gradients(b, loss, params).forEach((g, i) => b.output(g, `grad.${params[i]?.name}`));
  const feeds: Record<string, Float32Array> = {
    ...decoderFeeds({
      images: Float32Array.from(golden.images),
      embedding: Float32Array.from(golden.embedding),
      keep: keepOneHot(Int32Array.from(c.keepIndices), golden.batch, numPatches(cfg), c.keepCount),
    }),
    ...Object.fromEntries(b.params.map((p) => [p.value.name, p.init])),
  };
  return { model: b.toModel({ paramsAs: 'input' }), names: params.map((p) => p.name), feeds };
}

function checkGradients(names: readonly string[], grads: (name: string) => ArrayLike<number> | undefined, relTol: number): void {
  expect(names).toEqual(Object.keys(golden.gradStats));
  for (const name of names) {
    const g = grads(`grad.${name}`) ?? [];
    const [sum, norm] = golden.gradStats[name] as [number, number];
    let mySum = 0;
    let sq = 0;
    for (let i = 0; i < g.length; i++) {
      mySum += g[i] as number;
      sq += (g[i] as number) ** 2;
    }
    const myNorm = Math.sqrt(sq);
    expect(myNorm, `${name}: gradient is zero`).toBeGreaterThan(0);
    expect(Math.abs(myNorm - norm), `${name}: |grad| ${myNorm} vs torch ${norm}`).toBeLessThan(relTol * norm + 1e-7);
    expect(Math.abs(mySum - sum), `${name}: sum(grad) ${mySum} vs torch ${sum}`).toBeLessThan(relTol * norm + 1e-6);
  }
}

describe('decoder loss gradients reach every parameter and match PyTorch', () => {
  const { model, names, feeds } = gradientGraph();

  it('in the float64 interpreter', () => {
    const out = evaluate(model.graph, feeds);
    checkGradients(names, (n) => out[n]?.data, 1e-4);
  });

  it('in onnxruntime-node', async () => {
    const session = await ort.InferenceSession.create(serializeModel(model), { intraOpNumThreads: 1 });
    const shapes = new Map(model.graph.inputs.map((i) => [i.name, i.shape]));
    const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([n, d]) => [n, new ort.Tensor('float32', d, [...(shapes.get(n) ?? [])])]));
    const out = await session.run(ortFeeds);
    await session.release();
    checkGradients(names, (n) => out[n]?.data as Float32Array | undefined, 1e-3);
  });
});
