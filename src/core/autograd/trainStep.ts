// One ONNX graph per train step: forward + reverse-mode backward + global-norm clipping + Adam(W).
// Hyper-parameters that change during training (learning rate, Adam bias corrections) are scalar
// graph inputs, so a single graph serves every step; the rest are baked in as constants.

import { GraphBuilder, type ParamEntry, type Value } from '../onnx/builder';
import type { Model, ValueInfo } from '../onnx/graph';
import { serializeModel } from '../onnx/serialize';
import type { TrainGraph } from '../train/trainer';
import { gradients } from './gradients';

export interface AdamConfig {
  /** 'adamw' = torch.optim.AdamW (decoupled decay); 'adam' = torch.optim.Adam (L2 added to the gradient). */
  readonly mode: 'adamw' | 'adam';
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Global L2-norm clipping threshold (torch.nn.utils.clip_grad_norm_); undefined = no clipping. */
  readonly maxGradNorm?: number;
  /** Which params are decayed (default: all, as torch does with a single param group). */
  readonly decay?: (paramName: string) => boolean;
}

export const DEFAULT_ADAM: AdamConfig = { mode: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 };

/**
 * Names of train-step graph inputs/outputs. For every param `p` the graph takes `p`, `m(p)`, `v(p)`
 * and returns `next(p)`, `next(m(p))`, `next(v(p))`; feed those back as the next step's inputs
 * (see carryState).
 */
export const trainNames = {
  m: (param: string): string => `${param}.adam_m`,
  v: (param: string): string => `${param}.adam_v`,
  next: (name: string): string => `${name}.next`,
  /** float32 scalar (shape []) inputs */
  lr: 'train.lr',
  biasCorrection1: 'train.bias_correction1',
  biasCorrection2: 'train.bias_correction2',
  /** float32 scalar outputs */
  loss: 'train.loss',
  gradNorm: 'train.grad_norm',
} as const;

export interface TrainStep {
  readonly model: Model;
  readonly params: readonly ParamEntry[];
  /** Inputs declared by the forward definition (batch data), in declaration order. */
  readonly batchInputs: readonly ValueInfo[];
  /** Names of the carried state inputs (params, then m, then v); output of each is next(name). */
  readonly stateNames: readonly string[];
  readonly config: AdamConfig;
}

/** Params with at most this many elements share one flat Adam update per decay group. */
export const FUSED_UPDATE_MAX_ELEMENTS = 2048;

/**
 * Index groups for the Adam update, in param order within each group: params with more than
 * `maxFused` elements alone, the rest by decay flag (one group per flag).
 */
function updateGroups(params: readonly ParamEntry[], decayed: (name: string) => boolean, maxFused: number): number[][] {
  const groups: number[][] = [];
  const fused = new Map<boolean, number[]>();
  params.forEach(({ value, init }, i) => {
    if (init.length > maxFused) {
      groups.push([i]);
      return;
    }
    const key = decayed(value.name);
    let g = fused.get(key);
    if (!g) {
      g = [];
      fused.set(key, g);
      groups.push(g);
    }
    g.push(i);
  });
  return groups;
}

/** A forward definition: declares params (b.param) and batch inputs (b.input), returns a scalar loss. */
export type LossFn = (b: GraphBuilder) => Value;

export interface TrainStepOptions {
  /** Params with at most this many elements share one flat update (default FUSED_UPDATE_MAX_ELEMENTS; 0 = none). */
  readonly fusedUpdateMaxElements?: number;
}

export function buildTrainStep(forward: LossFn, config: Partial<AdamConfig> = {}, name = 'train_step', opts: TrainStepOptions = {}): TrainStep {
  const cfg: AdamConfig = { ...DEFAULT_ADAM, ...(config.mode === 'adam' ? { weightDecay: 0 } : {}), ...config };
  const b = new GraphBuilder(name);
  const loss = forward(b);
  if (loss.dtype !== 'float32' || loss.shape.reduce((p, d) => p * d, 1) !== 1) {
    throw new Error(`buildTrainStep: loss must be a float32 scalar, got ${loss.dtype}[${loss.shape.join(',')}]`);
  }
  const params = b.params;
  if (params.length === 0) throw new Error('buildTrainStep: the forward definition declared no params');
  const batchInputs = [...b.inputs];
  const raw = gradients(b, loss, params.map((p) => p.value));

  const lr = b.input(trainNames.lr, []);
  const bc1 = b.input(trainNames.biasCorrection1, []);
  const bc2 = b.input(trainNames.biasCorrection2, []);
  const decayed = (p: string): boolean => cfg.weightDecay !== 0 && (cfg.decay?.(p) ?? true);
  const moments = params.map(({ value: p }) => ({ m: b.input(trainNames.m(p.name), p.shape), v: b.input(trainNames.v(p.name), p.shape) }));

  // Small params are updated together: one Concat per state tensor, one elementwise update over the
  // flat vector, Slice+Reshape back to the per-param outputs. Large ones keep their own update
  // (few nodes each, cache-friendly, no copies). Graph inputs and outputs stay per param.
  const groups = updateGroups(params, decayed, opts.fusedUpdateMaxElements ?? FUSED_UPDATE_MAX_ELEMENTS);
  const flat = (vs: readonly Value[]): Value => (vs.length === 1 ? (vs[0] as Value) : b.concat(vs.map((v) => (v.shape.length === 1 ? v : b.reshape(v, [-1]))), 0));
  const units = groups.map((idx) =>
    idx.length === 1
      ? { idx, p: params[idx[0] as number]?.value as Value, m: moments[idx[0] as number]?.m as Value, v: moments[idx[0] as number]?.v as Value, g: raw[idx[0] as number] as Value }
      : {
          idx,
          p: flat(idx.map((i) => params[i]?.value as Value)),
          m: flat(idx.map((i) => moments[i]?.m as Value)),
          v: flat(idx.map((i) => moments[i]?.v as Value)),
          g: flat(idx.map((i) => raw[i] as Value)),
        },
  );

  // Global L2 norm over all gradients, reported before clipping (like clip_grad_norm_'s return).
  const sq = units.map((u) => b.reduceSum(b.mul(u.g, u.g), undefined, false)).reduce((acc, x) => b.add(acc, x));
  const norm = b.sqrt(sq);
  const coef = cfg.maxGradNorm === undefined ? undefined : b.min(b.scalar(1), b.div(b.scalar(cfg.maxGradNorm), b.add(norm, b.scalar(1e-6))));

  const stepSize = b.div(lr, bc1);
  const sqrtBc2 = b.sqrt(bc2);
  const nextP = new Map<number, Value>();
  const nextM = new Map<number, Value>();
  const nextV = new Map<number, Value>();
  for (const u of units) {
    const single = u.idx.length === 1 ? (params[u.idx[0] as number]?.value.name as string) : undefined;
    // A single param's update ends in nodes named like the graph outputs (no Identity needed).
    const named = (op: string, ins: readonly Value[], out: string): Value => (single ? (b.node(op, ins, {}, { names: [out] })[0] as Value) : b.node(op, ins)[0] as Value);
    let g = coef ? b.mul(u.g, coef) : u.g;
    let p0 = u.p;
    if (decayed(params[u.idx[0] as number]?.value.name as string)) {
      if (cfg.mode === 'adam') g = b.add(g, b.mul(u.p, b.scalar(cfg.weightDecay)));
      else p0 = b.mul(u.p, b.sub(b.scalar(1), b.mul(lr, b.scalar(cfg.weightDecay))));
    }
    const m1 = named('Add', [b.mul(u.m, b.scalar(cfg.beta1)), b.mul(g, b.scalar(1 - cfg.beta1))], trainNames.next(trainNames.m(single ?? '')));
    const v1 = named('Add', [b.mul(u.v, b.scalar(cfg.beta2)), b.mul(b.mul(g, g), b.scalar(1 - cfg.beta2))], trainNames.next(trainNames.v(single ?? '')));
    const denom = b.add(b.div(b.sqrt(v1), sqrtBc2), b.scalar(cfg.eps));
    const p1 = named('Sub', [p0, b.mul(stepSize, b.div(m1, denom))], trainNames.next(single ?? ''));
    if (single !== undefined) {
      const i = u.idx[0] as number;
      nextP.set(i, p1);
      nextM.set(i, m1);
      nextV.set(i, v1);
      continue;
    }
    let off = 0;
    for (const i of u.idx) {
      const p = params[i]?.value as Value;
      const n = p.shape.reduce((a, d) => a * d, 1);
      const back = (x: Value, out: string): Value => {
        if (p.shape.length === 1) return b.node('Slice', [x, b.int64([off]), b.int64([off + n])], {}, { names: [out] })[0] as Value;
        return b.node('Reshape', [b.slice(x, [off], [off + n]), b.int64(p.shape)], {}, { names: [out] })[0] as Value;
      };
      nextP.set(i, back(p1, trainNames.next(p.name)));
      nextM.set(i, back(m1, trainNames.next(trainNames.m(p.name))));
      nextV.set(i, back(v1, trainNames.next(trainNames.v(p.name))));
      off += n;
    }
  }
  params.forEach((_, i) => b.output(nextP.get(i) as Value));
  params.forEach((_, i) => b.output(nextM.get(i) as Value));
  params.forEach((_, i) => b.output(nextV.get(i) as Value));
  b.output(loss.shape.length === 0 ? loss : b.reshape(loss, []), trainNames.loss);
  b.output(norm, trainNames.gradNorm);

  const names = params.map((p) => p.value.name);
  return {
    model: b.toModel({ paramsAs: 'input', metadata: { 'dede.graph': 'train_step', 'dede.optimizer': JSON.stringify(cfg) } }),
    params,
    batchInputs,
    stateNames: [...names, ...names.map(trainNames.m), ...names.map(trainNames.v)],
    config: cfg,
  };
}

/** Initial state feeds: params at their init values, zero moments. */
export function initialState(step: TrainStep): Record<string, Float32Array> {
  const s: Record<string, Float32Array> = {};
  for (const { value, init } of step.params) {
    s[value.name] = Float32Array.from(init);
    s[trainNames.m(value.name)] = new Float32Array(init.length);
    s[trainNames.v(value.name)] = new Float32Array(init.length);
  }
  return s;
}

/** Scalar feeds for optimizer step `t` (1-based, as torch counts), with learning rate `lr`. */
export function scheduleFeeds(t: number, lr: number, cfg: Pick<AdamConfig, 'beta1' | 'beta2'>): Record<string, Float32Array> {
  if (!(t >= 1)) throw new Error(`scheduleFeeds: step must be ≥ 1, got ${t}`);
  return {
    [trainNames.lr]: Float32Array.of(lr),
    [trainNames.biasCorrection1]: Float32Array.of(1 - cfg.beta1 ** t),
    [trainNames.biasCorrection2]: Float32Array.of(1 - cfg.beta2 ** t),
  };
}

/** Map a step's outputs to the next step's state inputs (works for any tensor type, e.g. ORT GPU tensors). */
export function carryState<T>(step: TrainStep, outputs: Readonly<Record<string, T>>): Record<string, T> {
  const s: Record<string, T> = {};
  for (const n of step.stateNames) {
    const t = outputs[trainNames.next(n)];
    if (t === undefined) throw new Error(`carryState: missing output ${trainNames.next(n)}`);
    s[n] = t;
  }
  return s;
}

/** Serialise a train step for the runtime Trainer (src/core/train/trainer.ts). */
export function toTrainGraph(step: TrainStep): TrainGraph {
  const shapes = new Map(step.model.graph.inputs.map((i) => [i.name, i.shape]));
  return {
    bytes: serializeModel(step.model),
    carried: step.stateNames.map((input) => ({ input, output: trainNames.next(input), shape: shapes.get(input) ?? [] })),
    paramInputs: step.params.map((p) => p.value.name),
    lrInput: trainNames.lr,
    bias1Input: trainNames.biasCorrection1,
    bias2Input: trainNames.biasCorrection2,
    beta1: step.config.beta1,
    beta2: step.config.beta2,
    lossOutput: trainNames.loss,
    gradNormOutput: trainNames.gradNorm,
  };
}

/**
 * Inference export: the same forward code with params baked in as initializers (trained values from
 * `params` by name, init values otherwise). `forward` returns the named graph outputs.
 */
export function buildInference(forward: (b: GraphBuilder) => Readonly<Record<string, Value>>, params: Readonly<Record<string, Float32Array>> = {}, name = 'inference', metadata?: Readonly<Record<string, string>>): Model {
  const b = new GraphBuilder(name);
  for (const [outName, v] of Object.entries(forward(b))) b.output(v, outName);
  const known = new Set(b.params.map((p) => p.value.name));
  for (const k of Object.keys(params)) if (!known.has(k)) throw new Error(`buildInference: ${k} is not a param of this graph`);
  return b.toModel({ paramsAs: 'initializer', paramData: params, ...(metadata ? { metadata } : {}) });
}
