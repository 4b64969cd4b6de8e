// The decoder's parameters: one ordered spec list (names, shapes, init rule) that init, the
// builder declarations and checkpoints all follow. Weights are stored [in, out] so that a Linear
// is a plain MatMul. Names are stable: they are the checkpoint keys.

import type { GraphBuilder, Value } from '../onnx/builder';
import { numElements } from '../onnx/graph';
import { numPatches, patchDim, type DecoderConfig } from './config';

export type ParamInit =
  | { readonly kind: 'xavier'; readonly fanIn: number; readonly fanOut: number }
  | { readonly kind: 'normal'; readonly std: number }
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' };

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: ParamInit;
}

/** Parameter values by name (a checkpoint). */
export type DecoderWeights = Readonly<Record<string, Float32Array>>;

export interface LinearParams {
  readonly w: Value;
  /** Absent for bias-free Linears (qkv, splice). */
  readonly b?: Value;
}

export interface NormParams {
  readonly w: Value;
  readonly b: Value;
}

export interface BlockParams {
  readonly ln1: NormParams;
  readonly qkv: LinearParams;
  readonly proj: LinearParams;
  readonly ln2: NormParams;
  readonly fc1: LinearParams;
  readonly fc2: LinearParams;
}

export interface PatchBranchParams {
  readonly patch: LinearParams;
  /** [T, encDim]: no CLS slot. */
  readonly pos: Value;
  /** [encDim] */
  readonly cls: Value;
  readonly blocks: readonly BlockParams[];
  readonly norm: NormParams;
}

export interface DecoderParams {
  /** null when declared without the patch branch (scoring graphs with no visible patch). */
  readonly enc: PatchBranchParams | null;
  /** Linear(embedDim → encDim, no bias) that replaces the CLS output. */
  readonly splice: LinearParams;
  readonly dec: {
    readonly embed: LinearParams;
    /** [decDim] */
    readonly mask: Value;
    /** [1 + T, decDim]: slot 0 is the CLS position. */
    readonly pos: Value;
    readonly blocks: readonly BlockParams[];
    readonly pred: LinearParams;
  };
}

const PATCH_BRANCH_PREFIX = 'enc.';

// ---- specs ----------------------------------------------------------------------------------

const xavier = (fanIn: number, fanOut: number): ParamInit => ({ kind: 'xavier', fanIn, fanOut });
const ZEROS: ParamInit = { kind: 'zeros' };
const ONES: ParamInit = { kind: 'ones' };
const TOKEN: ParamInit = { kind: 'normal', std: 0.02 };

function linearSpecs(name: string, inDim: number, outDim: number, bias: boolean): ParamSpec[] {
  const w: ParamSpec = { name: `${name}.w`, shape: [inDim, outDim], init: xavier(inDim, outDim) };
  return bias ? [w, { name: `${name}.b`, shape: [outDim], init: ZEROS }] : [w];
}

function normSpecs(name: string, dim: number): ParamSpec[] {
  return [
    { name: `${name}.w`, shape: [dim], init: ONES },
    { name: `${name}.b`, shape: [dim], init: ZEROS },
  ];
}

function blockSpecs(name: string, dim: number, mlpRatio: number): ParamSpec[] {
  const hidden = dim * mlpRatio;
  return [
    ...normSpecs(`${name}.ln1`, dim),
    ...linearSpecs(`${name}.attn.qkv`, dim, 3 * dim, false),
    ...linearSpecs(`${name}.attn.proj`, dim, dim, true),
    ...normSpecs(`${name}.ln2`, dim),
    ...linearSpecs(`${name}.mlp.fc1`, dim, hidden, true),
    ...linearSpecs(`${name}.mlp.fc2`, hidden, dim, true),
  ];
}

/** Every parameter, in the order init draws random numbers (mirrored by the Python reference). */
export function decoderParamSpecs(cfg: DecoderConfig): ParamSpec[] {
  const T = numPatches(cfg);
  const specs: ParamSpec[] = [
    ...linearSpecs('enc.patch', patchDim(cfg), cfg.encDim, true),
    { name: 'enc.pos', shape: [T, cfg.encDim], init: TOKEN },
    { name: 'enc.cls', shape: [cfg.encDim], init: TOKEN },
  ];
  for (let i = 0; i < cfg.encDepth; i++) specs.push(...blockSpecs(`enc.blocks.${i}`, cfg.encDim, cfg.mlpRatio));
  specs.push(
    ...normSpecs('enc.norm', cfg.encDim),
    ...linearSpecs('splice', cfg.embedDim, cfg.encDim, false),
    ...linearSpecs('dec.embed', cfg.encDim, cfg.decDim, true),
    { name: 'dec.mask', shape: [cfg.decDim], init: TOKEN },
    { name: 'dec.pos', shape: [1 + T, cfg.decDim], init: TOKEN },
  );
  for (let i = 0; i < cfg.decDepth; i++) specs.push(...blockSpecs(`dec.blocks.${i}`, cfg.decDim, cfg.mlpRatio));
  specs.push(...linearSpecs('dec.pred', cfg.decDim, patchDim(cfg), true));
  return specs;
}

/** Whether a parameter belongs to the patch branch (unused when no patch is visible). */
export function isPatchBranchParam(name: string): boolean {
  return name.startsWith(PATCH_BRANCH_PREFIX);
}

/** Throws unless `weights` holds exactly the config's parameters with the right sizes (strict load). */
export function checkWeights(cfg: DecoderConfig, weights: DecoderWeights): void {
  const specs = decoderParamSpecs(cfg);
  const known = new Set(specs.map((s) => s.name));
  const problems: string[] = [];
  for (const s of specs) {
    const w = weights[s.name];
    if (!w) problems.push(`missing ${s.name}`);
    else if (w.length !== numElements(s.shape)) problems.push(`${s.name} has ${w.length} values, expected [${s.shape.join(',')}] = ${numElements(s.shape)}`);
  }
  for (const name of Object.keys(weights)) if (!known.has(name)) problems.push(`unexpected parameter ${name}`);
  if (problems.length > 0) throw new Error(`decoder weights do not match the config: ${problems.join('; ')}`);
}

// ---- declaration on a builder ------------------------------------------------------------------

export interface DeclareOptions {
  /** Declare the patch branch (default true). False for Tk = 0 graphs, where it is dead code. */
  readonly patchBranch?: boolean;
}

/** Declare the parameters as builder params (graph inputs or initializers, decided at build()). */
export function declareDecoderParams(b: GraphBuilder, cfg: DecoderConfig, weights: DecoderWeights, opts: DeclareOptions = {}): DecoderParams {
  checkWeights(cfg, weights);
  const withEnc = opts.patchBranch ?? true;
  const values = new Map<string, Value>();
  for (const s of decoderParamSpecs(cfg)) {
    if (!withEnc && isPatchBranchParam(s.name)) continue;
    values.set(s.name, b.param(s.name, weights[s.name] as Float32Array, s.shape));
  }
  const get = (name: string): Value => {
    const v = values.get(name);
    if (!v) throw new Error(`decoder param ${name} was not declared`);
    return v;
  };
  const linear = (name: string, bias = true): LinearParams => (bias ? { w: get(`${name}.w`), b: get(`${name}.b`) } : { w: get(`${name}.w`) });
  const norm = (name: string): NormParams => ({ w: get(`${name}.w`), b: get(`${name}.b`) });
  const block = (name: string): BlockParams => ({
    ln1: norm(`${name}.ln1`),
    qkv: linear(`${name}.attn.qkv`, false),
    proj: linear(`${name}.attn.proj`),
    ln2: norm(`${name}.ln2`),
    fc1: linear(`${name}.mlp.fc1`),
    fc2: linear(`${name}.mlp.fc2`),
  });
  const blocks = (prefix: string, depth: number): BlockParams[] => Array.from({ length: depth }, (_, i) => block(`${prefix}.blocks.${i}`));
  return {
    enc: withEnc
      ? { patch: linear('enc.patch'), pos: get('enc.pos'), cls: get('enc.cls'), blocks: blocks('enc', cfg.encDepth), norm: norm('enc.norm') }
      : null,
    splice: linear('splice', false),
    dec: { embed: linear('dec.embed'), mask: get('dec.mask'), pos: get('dec.pos'), blocks: blocks('dec', cfg.decDepth), pred: linear('dec.pred') },
  };
}
