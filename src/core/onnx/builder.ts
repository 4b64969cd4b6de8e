// GraphBuilder: emits a static-shape ONNX (opset 17) Graph/Model from typed op helpers.
//
// Every node goes through `node()`, which runs the op's shape-inference rule from one table
// (SHAPE_RULES). The typed helpers below are thin wrappers that only translate arguments into
// ONNX inputs/attributes, so there is exactly one place that knows each op's shape semantics.

import {
  DEFAULT_OPSET,
  attr,
  numElements,
  type Attr,
  type Attrs,
  type DType,
  type Graph,
  type GraphNode,
  type Initializer,
  type Model,
  type Shape,
  type TensorData,
  type ValueInfo,
} from './graph';
import { dtypeToElemType, elemTypeToDtype } from './elem-types';

/** A symbolic tensor in a graph under construction. */
export type Value = ValueInfo;

/** A trainable float32 tensor: a graph input in train graphs, an initializer in inference export. */
export interface ParamEntry {
  readonly value: Value;
  readonly init: Float32Array;
}

/** Output type/shape without a name, as produced by shape inference. */
export interface TypeShape {
  readonly dtype: DType;
  readonly shape: Shape;
}

function dtypeFromOnnxCode(code: number): DType {
  const d = elemTypeToDtype(code);
  if (d === null) throw new Error(`Cast: unsupported target element type ${code}`);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Attribute readers (shared with the interpreter and autograd).

export function attrInt(attrs: Attrs, key: string, dflt: number): number {
  const a = attrs[key];
  if (a === undefined) return dflt;
  if (a.kind !== 'int') throw new Error(`attribute ${key} must be an int, got ${a.kind}`);
  return a.value;
}

export function attrFloat(attrs: Attrs, key: string, dflt: number): number {
  const a = attrs[key];
  if (a === undefined) return dflt;
  if (a.kind !== 'float') throw new Error(`attribute ${key} must be a float, got ${a.kind}`);
  return a.value;
}

export function attrInts(attrs: Attrs, key: string): readonly number[] | undefined {
  const a = attrs[key];
  if (a === undefined) return undefined;
  if (a.kind !== 'ints') throw new Error(`attribute ${key} must be ints, got ${a.kind}`);
  return a.value;
}

// ---------------------------------------------------------------------------------------------
// Shape helpers.

export function fmtShape(s: Shape): string {
  return `[${s.join(',')}]`;
}

export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy (multidirectional) broadcasting. */
export function broadcastShapes(op: string, shapes: readonly Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      const sd = k < 0 ? 1 : (s[k] as number);
      if (sd === d || sd === 1) continue;
      if (d !== 1) throw new Error(`${op}: shapes ${shapes.map(fmtShape).join(' and ')} are not broadcastable`);
      d = sd;
    }
    out.push(d);
  }
  return out;
}

/** ONNX Slice clamping for one axis: returns [effective start, step, output length]. */
export function sliceRange(dim: number, start: number, end: number, step: number): [number, number, number] {
  if (step === 0) throw new Error('Slice: step must be non-zero');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  const len = Math.max(0, Math.ceil((e - s) / step));
  return [s, step, len];
}

/** Resolve a Reshape target (0 = copy, -1 = infer; allowzero = 0). */
export function resolveReshape(op: string, input: Shape, target: readonly number[]): number[] {
  const out = target.map((d, i) => (d === 0 ? (input[i] ?? NaN) : d));
  const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const total = numElements(input);
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1 || out.some((d) => Number.isNaN(d) || d < -1)) throw new Error(`${op}: bad target shape ${fmtShape(target)} for ${fmtShape(input)}`);
  if (neg === 1) {
    if (known === 0 || total % known !== 0) throw new Error(`${op}: cannot reshape ${fmtShape(input)} to ${fmtShape(target)}`);
    return out.map((d) => (d === -1 ? total / known : d));
  }
  if (known !== total) throw new Error(`${op}: cannot reshape ${fmtShape(input)} to ${fmtShape(target)}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shape inference: one rule per op.

interface ShapeCtx {
  readonly op: string;
  readonly ins: readonly (ValueInfo | undefined)[];
  readonly attrs: Attrs;
  /** Contents of a constant int64 input (needed for Reshape/Slice/... at build time). */
  constInts(i: number): number[] | undefined;
}
type ShapeRule = (c: ShapeCtx) => TypeShape[];

function req(c: ShapeCtx, i: number): ValueInfo {
  const v = c.ins[i];
  if (!v) throw new Error(`${c.op}: missing input ${i}`);
  return v;
}

function reqInts(c: ShapeCtx, i: number): number[] {
  const v = c.constInts(i);
  if (!v) throw new Error(`${c.op}: input ${i} must be a constant int64 tensor (static shapes only)`);
  return v;
}

function sameDtype(c: ShapeCtx, idx: readonly number[]): DType {
  const d = req(c, idx[0] as number).dtype;
  for (const i of idx) {
    const v = req(c, i);
    if (v.dtype !== d) throw new Error(`${c.op}: dtype mismatch (${c.ins.map((x) => x?.dtype).join(', ')})`);
  }
  return d;
}

const unaryRule: ShapeRule = (c) => {
  const x = req(c, 0);
  return [{ dtype: x.dtype, shape: x.shape }];
};
const binaryRule: ShapeRule = (c) => [
  { dtype: c.op === 'Pow' ? req(c, 0).dtype : sameDtype(c, [0, 1]), shape: broadcastShapes(c.op, [req(c, 0).shape, req(c, 1).shape]) },
];
const compareRule: ShapeRule = (c) => {
  sameDtype(c, [0, 1]);
  return [{ dtype: 'bool', shape: broadcastShapes(c.op, [req(c, 0).shape, req(c, 1).shape]) }];
};

function reduceShape(c: ShapeCtx, axes: readonly number[] | undefined): TypeShape[] {
  const x = req(c, 0);
  const keep = attrInt(c.attrs, 'keepdims', 1) !== 0;
  const r = x.shape.length;
  const noop = attrInt(c.attrs, 'noop_with_empty_axes', 0) !== 0;
  if ((axes === undefined || axes.length === 0) && noop) return [{ dtype: x.dtype, shape: x.shape }];
  const set = new Set((axes === undefined || axes.length === 0 ? x.shape.map((_, i) => i) : axes).map((a) => normAxis(a, r, c.op)));
  const shape: number[] = [];
  x.shape.forEach((d, i) => {
    if (!set.has(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
}

const SHAPE_RULES: Readonly<Record<string, ShapeRule>> = {
  Neg: unaryRule,
  Sqrt: unaryRule,
  Exp: unaryRule,
  Log: unaryRule,
  Tanh: unaryRule,
  Erf: unaryRule,
  Relu: unaryRule,
  Sigmoid: unaryRule,
  Abs: unaryRule,
  Identity: unaryRule,
  Add: binaryRule,
  Sub: binaryRule,
  Mul: binaryRule,
  Div: binaryRule,
  Pow: binaryRule,
  Min: binaryRule,
  Max: binaryRule,
  Greater: compareRule,
  Less: compareRule,
  Equal: compareRule,
  Where: (c) => {
    if (req(c, 0).dtype !== 'bool') throw new Error(`Where: condition must be bool, got ${req(c, 0).dtype}`);
    return [{ dtype: sameDtype(c, [1, 2]), shape: broadcastShapes('Where', [req(c, 0).shape, req(c, 1).shape, req(c, 2).shape]) }];
  },
  MatMul: (c) => {
    const dtype = sameDtype(c, [0, 1]);
    const a = req(c, 0).shape;
    const b = req(c, 1).shape;
    const fail = (): never => {
      throw new Error(`MatMul: incompatible shapes ${fmtShape(a)} and ${fmtShape(b)}`);
    };
    if (a.length === 0 || b.length === 0) fail();
    const a2 = a.length === 1 ? [1, a[0] as number] : a;
    const b2 = b.length === 1 ? [b[0] as number, 1] : b;
    if (a2[a2.length - 1] !== b2[b2.length - 2]) fail();
    let batch: number[] = [];
    try {
      batch = broadcastShapes('MatMul', [a2.slice(0, -2), b2.slice(0, -2)]);
    } catch {
      fail();
    }
    const shape = [...batch];
    if (a.length > 1) shape.push(a2[a2.length - 2] as number);
    if (b.length > 1) shape.push(b2[b2.length - 1] as number);
    return [{ dtype, shape }];
  },
  Gemm: (c) => {
    const dtype = sameDtype(c, c.ins[2] ? [0, 1, 2] : [0, 1]);
    const a = req(c, 0).shape;
    const b = req(c, 1).shape;
    if (a.length !== 2 || b.length !== 2) throw new Error(`Gemm: A and B must be 2-D, got ${fmtShape(a)} and ${fmtShape(b)}`);
    const ta = attrInt(c.attrs, 'transA', 0) !== 0;
    const tb = attrInt(c.attrs, 'transB', 0) !== 0;
    const [m, k] = ta ? [a[1], a[0]] : [a[0], a[1]];
    const [k2, n] = tb ? [b[1], b[0]] : [b[0], b[1]];
    if (k !== k2) throw new Error(`Gemm: inner dims differ: A ${fmtShape(a)} (transA=${+ta}), B ${fmtShape(b)} (transB=${+tb})`);
    const shape = [m as number, n as number];
    const cc = c.ins[2];
    if (cc) {
      const bs = broadcastShapes('Gemm', [cc.shape, shape]);
      if (fmtShape(bs) !== fmtShape(shape)) throw new Error(`Gemm: C ${fmtShape(cc.shape)} does not broadcast to ${fmtShape(shape)}`);
    }
    return [{ dtype, shape }];
  },
  Softmax: (c) => {
    const x = req(c, 0);
    normAxis(attrInt(c.attrs, 'axis', -1), x.shape.length, 'Softmax');
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  ReduceSum: (c) => reduceShape(c, c.ins[1] ? reqInts(c, 1) : undefined),
  ReduceMean: (c) => reduceShape(c, attrInts(c.attrs, 'axes')),
  ReduceMax: (c) => reduceShape(c, attrInts(c.attrs, 'axes')),
  Reshape: (c) => {
    const x = req(c, 0);
    return [{ dtype: x.dtype, shape: resolveReshape('Reshape', x.shape, reqInts(c, 1)) }];
  },
  Transpose: (c) => {
    const x = req(c, 0);
    const r = x.shape.length;
    const perm = attrInts(c.attrs, 'perm') ?? x.shape.map((_, i) => r - 1 - i);
    if (perm.length !== r || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      throw new Error(`Transpose: perm [${perm.join(',')}] invalid for ${fmtShape(x.shape)}`);
    }
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p] as number) }];
  },
  Concat: (c) => {
    const dtype = sameDtype(c, c.ins.map((_, i) => i));
    const first = req(c, 0).shape;
    const axis = normAxis(attrInt(c.attrs, 'axis', 0), first.length, 'Concat');
    const shape = [...first];
    shape[axis] = 0;
    for (let i = 0; i < c.ins.length; i++) {
      const s = req(c, i).shape;
      if (s.length !== first.length || s.some((d, j) => j !== axis && d !== first[j])) {
        throw new Error(`Concat: shapes ${c.ins.map((v) => fmtShape(v?.shape ?? [])).join(', ')} differ outside axis ${axis}`);
      }
      shape[axis] = (shape[axis] as number) + (s[axis] as number);
    }
    return [{ dtype, shape }];
  },
  Slice: (c) => {
    const x = req(c, 0);
    const r = x.shape.length;
    const starts = reqInts(c, 1);
    const ends = reqInts(c, 2);
    const axes = c.ins[3] ? reqInts(c, 3) : starts.map((_, i) => i);
    const steps = c.ins[4] ? reqInts(c, 4) : starts.map(() => 1);
    if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
      throw new Error('Slice: starts/ends/axes/steps lengths differ');
    }
    const shape = [...x.shape];
    if (new Set(axes.map((a) => normAxis(a, r, 'Slice'))).size !== axes.length) throw new Error(`Slice: duplicate axes [${axes.join(',')}]`);
    axes.forEach((a, i) => {
      const ax = normAxis(a, r, 'Slice');
      shape[ax] = sliceRange(x.shape[ax] as number, starts[i] as number, ends[i] as number, steps[i] as number)[2];
    });
    return [{ dtype: x.dtype, shape }];
  },
  Unsqueeze: (c) => {
    const x = req(c, 0);
    const axes = reqInts(c, 1);
    const r = x.shape.length + axes.length;
    const set = new Set(axes.map((a) => normAxis(a, r, 'Unsqueeze')));
    if (set.size !== axes.length) throw new Error(`Unsqueeze: duplicate axes [${axes.join(',')}]`);
    const shape: number[] = [];
    let j = 0;
    for (let i = 0; i < r; i++) shape.push(set.has(i) ? 1 : (x.shape[j++] as number));
    return [{ dtype: x.dtype, shape }];
  },
  Squeeze: (c) => {
    const x = req(c, 0);
    const r = x.shape.length;
    const axes = c.ins[1] ? reqInts(c, 1).map((a) => normAxis(a, r, 'Squeeze')) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const a of axes) if (x.shape[a] !== 1) throw new Error(`Squeeze: axis ${a} of ${fmtShape(x.shape)} is not 1`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
  },
  Expand: (c) => {
    const x = req(c, 0);
    return [{ dtype: x.dtype, shape: broadcastShapes('Expand', [x.shape, reqInts(c, 1)]) }];
  },
  Cast: (c) => [{ dtype: dtypeFromOnnxCode(attrInt(c.attrs, 'to', 1)), shape: req(c, 0).shape }],
  LayerNormalization: (c) => {
    const x = req(c, 0);
    const r = x.shape.length;
    const axis = normAxis(attrInt(c.attrs, 'axis', -1), r, 'LayerNormalization');
    const norm = x.shape.slice(axis);
    for (const i of [1, 2]) {
      const p = c.ins[i];
      if (!p) continue;
      if (fmtShape(broadcastShapes('LayerNormalization', [p.shape, norm])) !== fmtShape(norm)) {
        throw new Error(`LayerNormalization: ${i === 1 ? 'scale' : 'bias'} ${fmtShape(p.shape)} does not broadcast to ${fmtShape(norm)}`);
      }
    }
    const stat = x.shape.map((d, i) => (i < axis ? d : 1));
    return [
      { dtype: x.dtype, shape: x.shape },
      { dtype: 'float32', shape: stat },
      { dtype: 'float32', shape: stat },
    ];
  },
};

export const SUPPORTED_OPS: readonly string[] = Object.keys(SHAPE_RULES);

// ---------------------------------------------------------------------------------------------

export interface BuildOptions {
  /** 'input': params become graph inputs (train graphs); 'initializer': baked in (inference). */
  readonly paramsAs: 'input' | 'initializer';
  /** Replacement data for params by name (e.g. trained weights), used with 'initializer'. */
  readonly paramData?: Readonly<Record<string, Float32Array>>;
  /** Drop nodes and initializers that no output depends on (default true). */
  readonly prune?: boolean;
  /** Keep only these declared outputs (default: all, in declaration order). */
  readonly outputs?: readonly string[];
}

type Operand = Value | undefined;

/**
 * A forward sub-graph that autograd may differentiate as one unit with the rule registered for
 * `op` (e.g. 'Gelu'), instead of node by node. The nodes stay ordinary ONNX nodes; this is only a
 * note for `gradients()`, which falls back to the per-node rules when the region is not
 * self-contained (an interior value used outside it, or a non-constant operand it does not list).
 */
export interface CompositeRegion {
  readonly op: string;
  /** Differentiable inputs, in the order the rule returns gradients for them. */
  readonly inputs: readonly string[];
  readonly output: string;
  /** Forward values the rule may reuse (inputs, interior values or the output). */
  readonly saved: Readonly<Record<string, Value>>;
  /** Node index range [start, end) in the builder's node list; the last node produces `output`. */
  readonly start: number;
  readonly end: number;
}

function toInt64Array(values: readonly number[]): BigInt64Array {
  // Clamp so that "to the end" sentinels like 2^63 survive the BigInt conversion.
  const max = 9223372036854775807n;
  return BigInt64Array.from(values, (v) => {
    if (!Number.isInteger(v)) throw new Error(`int64 constant must hold integers, got ${v}`);
    const b = BigInt(v);
    return b > max ? max : b < -max - 1n ? -max - 1n : b;
  });
}

export class GraphBuilder {
  private readonly nodeList: GraphNode[] = [];
  private readonly inputList: ValueInfo[] = [];
  private readonly outputList: ValueInfo[] = [];
  private readonly inits = new Map<string, Initializer>();
  private readonly paramList: ParamEntry[] = [];
  private readonly infos = new Map<string, ValueInfo>();
  private readonly counters = new Map<string, number>();
  private readonly constCache = new Map<string, Value>();
  private readonly regionList: CompositeRegion[] = [];
  private inComposite = false;

  constructor(readonly name: string = 'graph') {}

  // ---- bookkeeping --------------------------------------------------------------------------

  get nodes(): readonly GraphNode[] {
    return this.nodeList;
  }
  get params(): readonly ParamEntry[] {
    return this.paramList;
  }
  get inputs(): readonly ValueInfo[] {
    return this.inputList;
  }
  get outputs(): readonly ValueInfo[] {
    return this.outputList;
  }
  get composites(): readonly CompositeRegion[] {
    return this.regionList;
  }

  /**
   * Emit `body`'s nodes as a composite region (see CompositeRegion): `op` names its gradient rule,
   * `inputs` its differentiable operands, and `saved` the forward values that rule reuses.
   */
  composite(op: string, inputs: readonly Value[], body: () => { readonly output: Value; readonly saved?: Readonly<Record<string, Value>> }): Value {
    if (this.inComposite) throw new Error(`composite ${op}: regions cannot nest`);
    const start = this.nodeList.length;
    this.inComposite = true;
    let res: { readonly output: Value; readonly saved?: Readonly<Record<string, Value>> };
    try {
      res = body();
    } finally {
      this.inComposite = false;
    }
    const end = this.nodeList.length;
    const last = this.nodeList[end - 1];
    if (end === start || !last || last.outputs[0] !== res.output.name) throw new Error(`composite ${op}: the region's last node must produce its output`);
    this.regionList.push({ op, inputs: inputs.map((v) => v.name), output: res.output.name, saved: { ...res.saved }, start, end });
    return res.output;
  }

  /** Shape/dtype of any named value in the graph. */
  info(name: string): ValueInfo {
    const v = this.infos.get(name);
    if (!v) throw new Error(`unknown value ${name}`);
    return v;
  }

  /** Initializer (constant) behind a value, if it is one. */
  constantOf(name: string): Initializer | undefined {
    return this.inits.get(name);
  }

  isParam(name: string): boolean {
    return this.paramList.some((p) => p.value.name === name);
  }

  /** A fresh unique name `<prefix>_<n>`. */
  fresh(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name: string;
    do name = `${prefix}_${n++}`;
    while (this.infos.has(name));
    this.counters.set(prefix, n);
    return name;
  }

  private declare(name: string, dtype: DType, shape: Shape): Value {
    if (this.infos.has(name)) throw new Error(`duplicate value name ${name}`);
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${name}: invalid shape ${fmtShape(shape)}`);
    const v: Value = { name, dtype, shape: [...shape] };
    this.infos.set(name, v);
    return v;
  }

  // ---- graph endpoints ----------------------------------------------------------------------

  input(name: string, shape: Shape, dtype: DType = 'float32'): Value {
    const v = this.declare(name, dtype, shape);
    this.inputList.push(v);
    return v;
  }

  param(name: string, data: Float32Array | readonly number[], shape: Shape): Value {
    if (data.length !== numElements(shape)) throw new Error(`param ${name}: ${data.length} values for shape ${fmtShape(shape)}`);
    const v = this.declare(name, 'float32', shape);
    this.paramList.push({ value: v, init: Float32Array.from(data) });
    return v;
  }

  /** A constant (ONNX initializer). */
  constant(data: TensorData, shape: Shape, dtype: DType, name?: string): Value {
    if (data.length !== numElements(shape)) throw new Error(`constant: ${data.length} values for shape ${fmtShape(shape)}`);
    const v = this.declare(name ?? this.fresh('const'), dtype, shape);
    this.inits.set(v.name, { ...v, data });
    return v;
  }

  /** float32 constant; shape defaults to 1-D. Identical small constants are shared. */
  constFloat(values: readonly number[] | Float32Array, shape: Shape = [values.length]): Value {
    const data = Float32Array.from(values);
    if (data.length > 16) return this.constant(data, shape, 'float32');
    const key = `f32:${fmtShape(shape)}:${Array.from(data).join(',')}`;
    return this.cached(key, () => this.constant(data, shape, 'float32'));
  }

  /** float32 rank-0 constant. */
  scalar(x: number): Value {
    return this.constFloat([x], []);
  }

  /** 1-D int64 constant (axes, shapes, slice bounds). Shared by value. */
  int64(values: readonly number[]): Value {
    return this.cached(`i64:${values.join(',')}`, () => this.constant(toInt64Array(values), [values.length], 'int64'));
  }

  private cached(key: string, make: () => Value): Value {
    let v = this.constCache.get(key);
    if (!v) {
      v = make();
      this.constCache.set(key, v);
    }
    return v;
  }

  /** Mark a value as a graph output under `name` (an Identity is inserted when renaming). */
  output(value: Value, name: string = value.name): Value {
    let v = value;
    if (name !== value.name) [v] = this.node('Identity', [value], {}, { names: [name] }) as [Value];
    if (this.outputList.some((o) => o.name === v.name)) throw new Error(`duplicate output ${v.name}`);
    this.outputList.push(v);
    return v;
  }

  // ---- generic node emission ------------------------------------------------------------------

  private constInts(v: Operand): number[] | undefined {
    if (!v) return undefined;
    const init = this.inits.get(v.name);
    if (!init || init.dtype !== 'int64') return undefined;
    return Array.from(init.data as BigInt64Array, (x) => Number(x));
  }

  /**
   * Emit one node with statically inferred output shapes. `outputs` limits how many outputs are
   * materialised (e.g. LayerNormalization's optional Mean/InvStdDev); `names` overrides names.
   */
  node(op: string, inputs: readonly Operand[], attrs: Attrs = {}, opts: { outputs?: number; names?: readonly string[] } = {}): Value[] {
    const rule = SHAPE_RULES[op];
    if (!rule) throw new Error(`GraphBuilder: unsupported op ${op}`);
    for (const v of inputs) if (v && !this.infos.has(v.name)) throw new Error(`${op}: input ${v.name} is not in this graph`);
    const inferred = rule({ op, ins: inputs, attrs, constInts: (i) => this.constInts(inputs[i]) });
    const n = opts.outputs ?? 1;
    const outs = inferred.slice(0, n).map((t, i) => this.declare(opts.names?.[i] ?? this.fresh(op.toLowerCase()), t.dtype, t.shape));
    // ONNX marks omitted optional inputs with ''; trailing ones are dropped.
    const names = inputs.map((v) => v?.name ?? '');
    while (names.length > 0 && names[names.length - 1] === '') names.pop();
    this.nodeList.push({ op, inputs: names, outputs: outs.map((o) => o.name), attrs, name: this.fresh(`n_${op}`) });
    return outs;
  }

  private one(op: string, inputs: readonly Operand[], attrs: Attrs = {}): Value {
    return this.node(op, inputs, attrs)[0] as Value;
  }

  // ---- typed op helpers ---------------------------------------------------------------------

  matmul(a: Value, b: Value): Value {
    return this.one('MatMul', [a, b]);
  }
  gemm(a: Value, b: Value, c?: Value, o: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}): Value {
    const attrs: Record<string, Attr> = {};
    if (o.transA) attrs.transA = attr.int(1);
    if (o.transB) attrs.transB = attr.int(1);
    if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = attr.float(o.alpha);
    if (o.beta !== undefined && o.beta !== 1) attrs.beta = attr.float(o.beta);
    return this.one('Gemm', [a, b, c], attrs);
  }
  add(a: Value, b: Value): Value {
    return this.one('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.one('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.one('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.one('Div', [a, b]);
  }
  pow(a: Value, b: Value): Value {
    return this.one('Pow', [a, b]);
  }
  min(a: Value, b: Value): Value {
    return this.one('Min', [a, b]);
  }
  max(a: Value, b: Value): Value {
    return this.one('Max', [a, b]);
  }
  greater(a: Value, b: Value): Value {
    return this.one('Greater', [a, b]);
  }
  less(a: Value, b: Value): Value {
    return this.one('Less', [a, b]);
  }
  equal(a: Value, b: Value): Value {
    return this.one('Equal', [a, b]);
  }
  neg(x: Value): Value {
    return this.one('Neg', [x]);
  }
  sqrt(x: Value): Value {
    return this.one('Sqrt', [x]);
  }
  exp(x: Value): Value {
    return this.one('Exp', [x]);
  }
  log(x: Value): Value {
    return this.one('Log', [x]);
  }
  tanh(x: Value): Value {
    return this.one('Tanh', [x]);
  }
  erf(x: Value): Value {
    return this.one('Erf', [x]);
  }
  relu(x: Value): Value {
    return this.one('Relu', [x]);
  }
  sigmoid(x: Value): Value {
    return this.one('Sigmoid', [x]);
  }
  abs(x: Value): Value {
    return this.one('Abs', [x]);
  }
  identity(x: Value): Value {
    return this.one('Identity', [x]);
  }
  where(cond: Value, x: Value, y: Value): Value {
    return this.one('Where', [cond, x, y]);
  }
  softmax(x: Value, axis = -1): Value {
    return this.one('Softmax', [x], { axis: attr.int(axis) });
  }
  /** axes undefined = reduce over all axes. */
  reduceSum(x: Value, axes?: readonly number[], keepdims = true): Value {
    return this.one('ReduceSum', [x, axes ? this.int64(axes) : undefined], { keepdims: attr.int(keepdims ? 1 : 0) });
  }
  reduceMean(x: Value, axes?: readonly number[], keepdims = true): Value {
    return this.one('ReduceMean', [x], this.reduceAttrs(axes, keepdims));
  }
  reduceMax(x: Value, axes?: readonly number[], keepdims = true): Value {
    return this.one('ReduceMax', [x], this.reduceAttrs(axes, keepdims));
  }
  private reduceAttrs(axes: readonly number[] | undefined, keepdims: boolean): Attrs {
    const a: Record<string, Attr> = { keepdims: attr.int(keepdims ? 1 : 0) };
    if (axes) a.axes = attr.ints(axes);
    return a;
  }
  reshape(x: Value, shape: readonly number[]): Value {
    return this.one('Reshape', [x, this.int64(shape)]);
  }
  transpose(x: Value, perm?: readonly number[]): Value {
    return this.one('Transpose', [x], perm ? { perm: attr.ints(perm) } : {});
  }
  concat(xs: readonly Value[], axis: number): Value {
    return this.one('Concat', xs, { axis: attr.int(axis) });
  }
  slice(x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Value {
    return this.one('Slice', [x, this.int64(starts), this.int64(ends), axes ? this.int64(axes) : undefined, steps ? this.int64(steps) : undefined]);
  }
  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.one('Unsqueeze', [x, this.int64(axes)]);
  }
  squeeze(x: Value, axes?: readonly number[]): Value {
    return this.one('Squeeze', [x, axes ? this.int64(axes) : undefined]);
  }
  expand(x: Value, shape: readonly number[]): Value {
    return this.one('Expand', [x, this.int64(shape)]);
  }
  cast(x: Value, to: DType): Value {
    return this.one('Cast', [x], { to: attr.int(dtypeToElemType(to)) });
  }
  layerNorm(x: Value, scale: Value, bias?: Value, o: { axis?: number; epsilon?: number } = {}): Value {
    return this.one('LayerNormalization', [x, scale, bias], {
      axis: attr.int(o.axis ?? -1),
      epsilon: attr.float(o.epsilon ?? 1e-5),
    });
  }

  // ---- small composites (built from the ops above) ------------------------------------------

  /** A float32 zero tensor of `shape`, as Expand of a scalar (no large initializer). */
  zeros(shape: Shape): Value {
    return this.expand(this.scalar(0), shape);
  }

  // ---- export -------------------------------------------------------------------------------

  build(opts: BuildOptions): Graph {
    const outputs = opts.outputs ? opts.outputs.map((n) => this.declaredOutput(n)) : [...this.outputList];
    if (outputs.length === 0) throw new Error('GraphBuilder.build: no outputs declared');
    const paramInits: Initializer[] = this.paramList.map(({ value, init }) => {
      const data = opts.paramData?.[value.name] ?? init;
      if (data.length !== init.length) throw new Error(`param ${value.name}: replacement has ${data.length} values, expected ${init.length}`);
      return { ...value, data };
    });
    let nodes: GraphNode[] = this.nodeList;
    if (opts.prune ?? true) {
      const live = new Set(outputs.map((o) => o.name));
      const kept: GraphNode[] = [];
      for (let i = nodes.length - 1; i >= 0; i--) {
        const n = nodes[i] as GraphNode;
        if (!n.outputs.some((o) => live.has(o))) continue;
        kept.push(n);
        for (const x of n.inputs) if (x) live.add(x);
      }
      nodes = kept.reverse();
    }
    const used = new Set<string>(outputs.map((o) => o.name));
    for (const n of nodes) for (const x of n.inputs) used.add(x);
    const consts = [...this.inits.values()].filter((c) => used.has(c.name));
    const paramsAsInputs = opts.paramsAs === 'input';
    const inputs = paramsAsInputs ? [...this.paramList.map((p) => p.value), ...this.inputList] : [...this.inputList];
    const initializers = paramsAsInputs ? consts : [...paramInits, ...consts];
    const valueInfo = new Map<string, ValueInfo>();
    for (const n of nodes) for (const o of n.outputs) valueInfo.set(o, this.info(o));
    return { name: this.name, inputs, outputs, initializers, nodes, valueInfo };
  }

  private declaredOutput(name: string): ValueInfo {
    const o = this.outputList.find((v) => v.name === name);
    if (!o) throw new Error(`GraphBuilder.build: ${name} is not a declared output`);
    return o;
  }

  toModel(opts: BuildOptions & { metadata?: Readonly<Record<string, string>> }): Model {
    return {
      graph: this.build(opts),
      opsets: [{ domain: '', version: DEFAULT_OPSET }],
      producerName: 'dede-web',
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
    };
  }
}
