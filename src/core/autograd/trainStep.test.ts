import { describe, expect, it } from 'vitest';
import { ortSession } from '../../testing/ort';
import type { GraphBuilder, Value } from '../onnx/builder';
import { evaluate } from '../onnx/interpret';
import { blockForward, blockLoss, blockParamShapes, initBlockParams, lcgUniform, type BlockConfig } from './testing/tinyBlock';
import { buildInference, buildTrainStep, carryState, initialState, scheduleFeeds, toTrainGraph, trainNames, type TrainStep } from './trainStep';

const cfg: BlockConfig = { batch: 4, seq: 6, dim: 12, heads: 3, mlp: 48, eps: 1e-5 };
const n = cfg.batch * cfg.seq * cfg.dim;

/** Toy regression a block can represent: y = 0.5·x + mean over the sequence of x. */
function toyBatch(seed: number): { x: Float32Array; target: Float32Array } {
  const x = lcgUniform(n, seed);
  const target = new Float32Array(n);
  const { seq: T, dim: D } = cfg;
  for (let bi = 0; bi < cfg.batch; bi++)
    for (let d = 0; d < D; d++) {
      let mean = 0;
      for (let t = 0; t < T; t++) mean += x[(bi * T + t) * D + d] as number;
      mean /= T;
      for (let t = 0; t < T; t++) target[(bi * T + t) * D + d] = 0.5 * (x[(bi * T + t) * D + d] as number) + mean;
    }
  return { x, target };
}

type Runner = (feeds: Record<string, Float32Array>) => Promise<Record<string, { readonly data: ArrayLike<number> }>>;

/** Run `steps` train steps on a fixed batch, feeding outputs back; returns the loss per step. */
async function train(step: TrainStep, run: Runner, steps: number, lr: number): Promise<{ losses: number[]; state: Record<string, Float32Array> }> {
  const batch = toyBatch(5);
  let state = initialState(step);
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const out = await run({ ...state, ...scheduleFeeds(t, lr, step.config), ...batch });
    losses.push(out[trainNames.loss]?.data[0] as number);
    state = Object.fromEntries(Object.entries(carryState(step, out)).map(([k, v]) => [k, Float32Array.from(v.data)]));
  }
  return { losses, state };
}

const init = initBlockParams(cfg, 42);
const step = buildTrainStep(blockLoss(cfg, init), { mode: 'adamw', weightDecay: 0, maxGradNorm: 1 });

describe('train-step graph structure', () => {
  const g = step.model.graph;
  it('inputs: params, m, v, scalars, batch; outputs: next state, loss, grad norm', () => {
    const names = blockParamShapes(cfg).map(([p]) => p);
    expect(step.stateNames).toEqual([...names, ...names.map(trainNames.m), ...names.map(trainNames.v)]);
    expect(g.inputs.map((i) => i.name).sort()).toEqual([...step.stateNames, trainNames.lr, trainNames.biasCorrection1, trainNames.biasCorrection2, 'x', 'target'].sort());
    expect(g.outputs.map((o) => o.name)).toEqual([...step.stateNames.map(trainNames.next), trainNames.loss, trainNames.gradNorm]);
    for (const s of step.stateNames) {
      expect(g.outputs.find((o) => o.name === trainNames.next(s))?.shape).toEqual(g.inputs.find((i) => i.name === s)?.shape);
    }
    expect(g.inputs.find((i) => i.name === trainNames.lr)?.shape).toEqual([]);
  });

  it('adapts to the runtime Trainer contract', () => {
    const tg = toTrainGraph(step);
    expect(tg.bytes.length).toBeGreaterThan(1000);
    expect(tg.carried.map((c) => c.input)).toEqual(step.stateNames);
    expect(tg.carried.every((c) => g.outputs.some((o) => o.name === c.output && o.shape.join() === c.shape.join()))).toBe(true);
    expect([tg.lrInput, tg.bias1Input, tg.bias2Input, tg.lossOutput, tg.gradNormOutput]).toEqual([trainNames.lr, trainNames.biasCorrection1, trainNames.biasCorrection2, trainNames.loss, trainNames.gradNorm]);
  });

  it('uses no gather/scatter and no int64 tensors at run time', () => {
    const ops = new Set(g.nodes.map((nd) => nd.op));
    for (const bad of ['Gather', 'GatherElements', 'GatherND', 'ScatterElements', 'ScatterND', 'Scatter']) expect(ops.has(bad)).toBe(false);
    expect(g.inputs.every((i) => i.dtype === 'float32')).toBe(true);
    const constants = new Set(g.initializers.map((i) => i.name));
    for (const nd of g.nodes)
      for (const name of nd.inputs) {
        const info = g.valueInfo.get(name);
        if (info?.dtype === 'int64') expect(constants.has(name), `${nd.op} reads runtime int64 ${name}`).toBe(true);
      }
  });
});

describe('fused Adam update of small params', () => {
  it('matches per-param updates exactly, with a decay split, L2 decay and clipping; fewer nodes', () => {
    const adam = { mode: 'adam', weightDecay: 0.1, maxGradNorm: 0.05, decay: (p: string) => !p.includes('ln') } as const;
    const perParam = buildTrainStep(blockLoss(cfg, init), adam, 'a', { fusedUpdateMaxElements: 0 });
    const fused = buildTrainStep(blockLoss(cfg, init), adam, 'b', { fusedUpdateMaxElements: 200 });
    expect(fused.model.graph.outputs.map((o) => [o.name, o.shape])).toEqual(perParam.model.graph.outputs.map((o) => [o.name, o.shape]));
    expect(fused.model.graph.inputs.map((i) => [i.name, i.shape])).toEqual(perParam.model.graph.inputs.map((i) => [i.name, i.shape]));
    expect(fused.model.graph.nodes.length).toBeLessThan(perParam.model.graph.nodes.length - 50);
    expect(fused.model.graph.nodes.filter((nd) => nd.op === 'Concat').length).toBeGreaterThanOrEqual(8); // 2 groups × p, m, v, g
    const state = initialState(perParam);
    for (const [k, v] of Object.entries(state)) if (k.endsWith('.adam_m') || k.endsWith('.adam_v')) v.forEach((_, i) => (v[i] = k.endsWith('_v') ? 0.01 * ((i % 5) + 1) : 0.01 * ((i % 7) - 3)));
    const feeds = { ...state, ...scheduleFeeds(3, 1e-2, perParam.config), ...toyBatch(9) };
    const a = evaluate(perParam.model.graph, feeds);
    const b = evaluate(fused.model.graph, feeds);
    for (const o of perParam.model.graph.outputs) expect(Array.from(b[o.name]?.data ?? []), o.name).toEqual(Array.from(a[o.name]?.data ?? []));
  });
});

describe('tiny pre-norm transformer block learns a toy regression', () => {
  it('interpreter: loss falls below 1% of its initial value in 60 steps', async () => {
    const { losses } = await train(step, async (f) => evaluate(step.model.graph, f), 60, 1e-2);
    expect(losses[losses.length - 1]).toBeLessThan(0.01 * (losses[0] as number));
  });

  it('onnxruntime-node: same trajectory as the interpreter, then keeps learning', async () => {
    const ort = await ortSession(step.model);
    const ref = await train(step, async (f) => evaluate(step.model.graph, f), 3, 1e-2);
    const got = await train(step, ort, 150, 1e-2);
    got.losses.slice(0, 3).forEach((l, i) => expect(Math.abs(l - (ref.losses[i] as number))).toBeLessThan(1e-5));
    expect(got.losses[got.losses.length - 1]).toBeLessThan(1e-4 * (got.losses[0] as number));

    // Inference export with the trained weights reproduces the trained model's prediction.
    const trained = Object.fromEntries(step.params.map((p) => [p.value.name, got.state[p.value.name] as Float32Array]));
    const model = buildInference((b: GraphBuilder) => {
      const p: Record<string, Value> = {};
      for (const [name, shape] of blockParamShapes(cfg)) p[name] = b.param(name, init[name] as Float32Array, shape);
      return { y: blockForward(b, cfg, p, b.input('x', [cfg.batch, cfg.seq, cfg.dim])) };
    }, trained);
    expect(model.graph.inputs.map((i) => i.name)).toEqual(['x']);
    const { x, target } = toyBatch(5);
    const y = (await (await ortSession(model))({ x })).y?.data ?? new Float32Array();
    let mse = 0;
    for (let i = 0; i < n; i++) mse += ((y[i] as number) - (target[i] as number)) ** 2 / n;
    expect(mse).toBeLessThan(1e-4 * (got.losses[0] as number));
  });
});
