// GraphBuilder: emits a static-shape ONNX (opset 17) Graph/Model from typed op helpers.
//
// Every node goes through `node()`, which runs the op's shape-inference rule from one table
// (SHAPE_RULES in shape-rules.ts). The typed helpers below are thin wrappers that only translate
// arguments into ONNX inputs/attributes, so there is exactly one place that knows each op's shape
// semantics.

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
import { dtypeToElemType } from './elem-types';
import { fmtShape, SHAPE_RULES } from './shape-rules';

/** A symbolic tensor in a graph under construction. */
export type Value = ValueInfo;

/** A trainable float32 tensor: a graph input in train graphs, an initializer in inference export. */
export interface ParamEntry {
  readonly value: Value;
  readonly init: Float32Array;
}

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
