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

/** A forward definition: declares params (b.param) and batch inputs (b.input), returns a scalar loss. */
export type LossFn = (b: GraphBuilder) => Value;

export function buildTrainStep(forward: LossFn, config: Partial<AdamConfig> = {}, name = 'train_step'): TrainStep {
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

  // Global L2 norm over all gradients, reported before clipping (like clip_grad_norm_'s return).
  const sq = raw.map((g) => b.reduceSum(b.mul(g, g), undefined, false)).reduce((acc, s) => b.add(acc, s));
  const norm = b.sqrt(sq);
  let grads = raw;
  if (cfg.maxGradNorm !== undefined) {
    const coef = b.min(b.scalar(1), b.div(b.scalar(cfg.maxGradNorm), b.add(norm, b.scalar(1e-6))));
    grads = raw.map((g) => b.mul(g, coef));
  }

  const stepSize = b.div(lr, bc1);
  const sqrtBc2 = b.sqrt(bc2);
  const decayed = (p: string): boolean => cfg.weightDecay !== 0 && (cfg.decay?.(p) ?? true);
  const nextP: Value[] = [];
  const nextM: Value[] = [];
  const nextV: Value[] = [];
  params.forEach(({ value: p }, i) => {
    let g = grads[i] as Value;
    const m = b.input(trainNames.m(p.name), p.shape);
    const v = b.input(trainNames.v(p.name), p.shape);
    let p0 = p;
    if (decayed(p.name)) {
      if (cfg.mode === 'adam') g = b.add(g, b.mul(p, b.scalar(cfg.weightDecay)));
      else p0 = b.mul(p, b.sub(b.scalar(1), b.mul(lr, b.scalar(cfg.weightDecay))));
    }
    const m1 = b.add(b.mul(m, b.scalar(cfg.beta1)), b.mul(g, b.scalar(1 - cfg.beta1)));
    const v1 = b.add(b.mul(v, b.scalar(cfg.beta2)), b.mul(b.mul(g, g), b.scalar(1 - cfg.beta2)));
    const denom = b.add(b.div(b.sqrt(v1), sqrtBc2), b.scalar(cfg.eps));
    nextP.push(b.sub(p0, b.mul(stepSize, b.div(m1, denom))));
    nextM.push(m1);
    nextV.push(v1);
  });
  params.forEach(({ value: p }, i) => b.output(nextP[i] as Value, trainNames.next(p.name)));
  params.forEach(({ value: p }, i) => b.output(nextM[i] as Value, trainNames.next(trainNames.m(p.name))));
  params.forEach(({ value: p }, i) => b.output(nextV[i] as Value, trainNames.next(trainNames.v(p.name))));
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
