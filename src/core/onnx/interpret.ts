// A float64 reference evaluator for our Graph IR. It is the independent oracle for gradient
// checks and the golden tests, so it favours plain loops over speed. All tensors, whatever their
// ONNX dtype, are held as Float64Array (int64 values we use are small; bool is 0/1).
// Only graph *types* are shared with the builder: shapes are recomputed here from the data and
// checked against the graph's declared valueInfo, which cross-checks the builder's inference.

import { elemTypeToDtype } from './elem-types';
import { numElements, type Attrs, type Graph, type GraphNode, type Initializer, type Shape } from './graph';

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export type FeedData = Float64Array | Float32Array | Int32Array | BigInt64Array | Uint8Array | readonly number[];

function toF64(data: FeedData | Initializer['data']): Float64Array {
  if (data instanceof BigInt64Array) return Float64Array.from(data, (x) => Number(x));
  return Float64Array.from(data as ArrayLike<number>);
}

const fmt = (s: readonly number[]): string => `[${s.join(',')}]`;

function getAttr(attrs: Attrs, key: string): Attrs[string] | undefined {
  return attrs[key];
}
function intAttr(attrs: Attrs, key: string, dflt: number): number {
  const a = getAttr(attrs, key);
  return a && a.kind === 'int' ? a.value : dflt;
}
function floatAttr(attrs: Attrs, key: string, dflt: number): number {
  const a = getAttr(attrs, key);
  return a && a.kind === 'float' ? a.value : dflt;
}
function intsAttr(attrs: Attrs, key: string): readonly number[] | undefined {
  const a = getAttr(attrs, key);
  return a && a.kind === 'ints' ? a.value : undefined;
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = (s[i + 1] as number) * (shape[i + 1] as number);
  return s;
}

function axisOf(a: number, rank: number): number {
  const r = a < 0 ? a + rank : a;
  if (r < 0 || r >= rank) throw new Error(`axis ${a} out of range for rank ${rank}`);
  return r;
}

function broadcastShape(shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const sd = s[s.length - rank + i] ?? 1;
      if (sd !== 1 && d !== 1 && sd !== d) throw new Error(`cannot broadcast ${shapes.map(fmt).join(', ')}`);
      if (sd !== 1) d = sd;
    }
    out.push(d);
  }
  return out;
}

/** For each element of `outShape`, the flat index into a tensor of shape `s` broadcast to it. */
function broadcastIndex(s: readonly number[], outShape: readonly number[]): Int32Array {
  const n = numElements(outShape);
  const idx = new Int32Array(n);
  const r = outShape.length;
  const st = strides(s);
  const outSt = strides(outShape);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let k = 0; k < r; k++) {
      const j = k - (r - s.length);
      if (j < 0 || s[j] === 1) continue;
      off += Math.floor(i / (outSt[k] as number)) % (outShape[k] as number) * (st[j] as number);
    }
    idx[i] = off;
  }
  return idx;
}

function elementwise(ins: readonly Tensor[], f: (...v: number[]) => number): Tensor {
  const shape = broadcastShape(ins.map((t) => t.shape));
  const idx = ins.map((t) => broadcastIndex(t.shape, shape));
  const out = new Float64Array(numElements(shape));
  const args = new Array<number>(ins.length);
  for (let i = 0; i < out.length; i++) {
    for (let k = 0; k < ins.length; k++) args[k] = (ins[k] as Tensor).data[(idx[k] as Int32Array)[i] as number] as number;
    out[i] = f(...args);
  }
  return { shape, data: out };
}

/** Abramowitz–Stegun 7.1.26 is too coarse for a reference; use a series / continued fraction. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)); converges fast here.
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for the tail.
  const t = ax;
  let f = t;
  let c = t;
  let d = 0;
  for (let k = 1; k < 200; k++) {
    const a = k / 2;
    d = t + a * d;
    d = d === 0 ? 1e-300 : 1 / d;
    c = t + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-t * t) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const UNARY: Readonly<Record<string, (x: number) => number>> = {
  Neg: (x) => -x,
  Sqrt: Math.sqrt,
  Exp: Math.exp,
  Log: Math.log,
  Tanh: Math.tanh,
  Erf: erf,
  Relu: (x) => (x > 0 ? x : 0),
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Abs: Math.abs,
  Identity: (x) => x,
};

const NARY: Readonly<Record<string, (...v: number[]) => number>> = {
  Add: (a, b) => (a as number) + (b as number),
  Sub: (a, b) => (a as number) - (b as number),
  Mul: (a, b) => (a as number) * (b as number),
  Div: (a, b) => (a as number) / (b as number),
  Pow: (a, b) => Math.pow(a as number, b as number),
  Min: (a, b) => Math.min(a as number, b as number),
  Max: (a, b) => Math.max(a as number, b as number),
  Greater: (a, b) => ((a as number) > (b as number) ? 1 : 0),
  Less: (a, b) => ((a as number) < (b as number) ? 1 : 0),
  Equal: (a, b) => (a === b ? 1 : 0),
  Where: (c, x, y) => (c !== 0 ? (x as number) : (y as number)),
};

function ints(t: Tensor | undefined): number[] | undefined {
  return t ? Array.from(t.data) : undefined;
}

/** Reduce over `axes` (all when empty) with an accumulator; returns keepdims/non-keepdims shape. */
function reduce(x: Tensor, axesIn: readonly number[] | undefined, keep: boolean, init: number, acc: (a: number, v: number) => number, fin: (a: number, n: number) => number): Tensor {
  const r = x.shape.length;
  const axes = new Set((axesIn && axesIn.length > 0 ? axesIn : x.shape.map((_, i) => i)).map((a) => axisOf(a, r)));
  const keptShape = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
  const out = new Float64Array(numElements(keptShape)).fill(init);
  const idx = broadcastIndex(keptShape, x.shape); // maps each input element to its output slot
  for (let i = 0; i < x.data.length; i++) out[idx[i] as number] = acc(out[idx[i] as number] as number, x.data[i] as number);
  const count = numElements(x.shape) / out.length;
  for (let i = 0; i < out.length; i++) out[i] = fin(out[i] as number, count);
  return { shape: keep ? keptShape : x.shape.filter((_, i) => !axes.has(i)), data: out };
}

function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => x.shape[p] as number);
  const inSt = strides(x.shape);
  const outSt = strides(shape);
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    let off = 0;
    for (let k = 0; k < shape.length; k++) off += (Math.floor(i / (outSt[k] as number)) % (shape[k] as number)) * (inSt[perm[k] as number] as number);
    out[i] = x.data[off] as number;
  }
  return { shape, data: out };
}

function matmul(a: Tensor, b: Tensor): Tensor {
  const a2 = a.shape.length === 1 ? [1, a.shape[0] as number] : a.shape;
  const b2 = b.shape.length === 1 ? [b.shape[0] as number, 1] : b.shape;
  const M = a2[a2.length - 2] as number;
  const K = a2[a2.length - 1] as number;
  const N = b2[b2.length - 1] as number;
  if (b2[b2.length - 2] !== K) throw new Error(`MatMul: ${fmt(a.shape)} x ${fmt(b.shape)}`);
  const batch = broadcastShape([a2.slice(0, -2), b2.slice(0, -2)]);
  const ai = broadcastIndex(a2.slice(0, -2), batch);
  const bi = broadcastIndex(b2.slice(0, -2), batch);
  const nb = numElements(batch);
  const out = new Float64Array(nb * M * N);
  for (let q = 0; q < nb; q++) {
    const ao = (ai[q] as number) * M * K;
    const bo = (bi[q] as number) * K * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += (a.data[ao + i * K + k] as number) * (b.data[bo + k * N + j] as number);
        out[q * M * N + i * N + j] = s;
      }
  }
  const shape = [...batch];
  if (a.shape.length > 1) shape.push(M);
  if (b.shape.length > 1) shape.push(N);
  return { shape, data: out };
}

function sliceT(x: Tensor, starts: number[], ends: number[], axesIn?: number[], stepsIn?: number[]): Tensor {
  const r = x.shape.length;
  const first = x.shape.map(() => 0);
  const step = x.shape.map(() => 1);
  const shape = [...x.shape];
  starts.forEach((s0, i) => {
    const ax = axisOf(axesIn ? (axesIn[i] as number) : i, r);
    const dim = x.shape[ax] as number;
    const st = stepsIn ? (stepsIn[i] as number) : 1;
    let s = s0 < 0 ? s0 + dim : s0;
    let e = (ends[i] as number) < 0 ? (ends[i] as number) + dim : (ends[i] as number);
    // ONNX clamping rules differ for negative steps.
    if (st > 0) {
      s = Math.max(0, Math.min(s, dim));
      e = Math.max(0, Math.min(e, dim));
    } else {
      s = Math.max(0, Math.min(s, dim - 1));
      e = Math.max(-1, Math.min(e, dim - 1));
    }
    first[ax] = s;
    step[ax] = st;
    shape[ax] = Math.max(0, Math.ceil((e - s) / st));
  });
  const inSt = strides(x.shape);
  const outSt = strides(shape);
  const out = new Float64Array(numElements(shape));
  for (let i = 0; i < out.length; i++) {
    let off = 0;
    for (let k = 0; k < r; k++) {
      const c = Math.floor(i / (outSt[k] as number)) % (shape[k] as number);
      off += ((first[k] as number) + c * (step[k] as number)) * (inSt[k] as number);
    }
    out[i] = x.data[off] as number;
  }
  return { shape, data: out };
}

function concat(xs: readonly Tensor[], axisIn: number): Tensor {
  const x0 = xs[0] as Tensor;
  const axis = axisOf(axisIn, x0.shape.length);
  const outer = numElements(x0.shape.slice(0, axis));
  const inner = numElements(x0.shape.slice(axis + 1));
  const shape = [...x0.shape];
  shape[axis] = xs.reduce((s, t) => s + (t.shape[axis] as number), 0);
  const out = new Float64Array(numElements(shape));
  let o = 0;
  for (let q = 0; q < outer; q++)
    for (const t of xs) {
      const block = (t.shape[axis] as number) * inner;
      out.set(t.data.subarray(q * block, (q + 1) * block), o);
      o += block;
    }
  return { shape, data: out };
}

function reshapeTarget(x: Tensor, target: number[]): number[] {
  const out = target.map((d, i) => (d === 0 ? (x.shape[i] as number) : d));
  const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
  return out.map((d) => (d === -1 ? x.data.length / known : d));
}

function layerNorm(x: Tensor, scale: Tensor, bias: Tensor | undefined, axisIn: number, eps: number): Tensor {
  const axis = axisOf(axisIn, x.shape.length);
  const normShape = x.shape.slice(axis);
  const n = numElements(normShape);
  const si = broadcastIndex(scale.shape, normShape);
  const bi = bias ? broadcastIndex(bias.shape, normShape) : undefined;
  const out = new Float64Array(x.data.length);
  for (let o = 0; o < x.data.length; o += n) {
    let mean = 0;
    for (let j = 0; j < n; j++) mean += x.data[o + j] as number;
    mean /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += ((x.data[o + j] as number) - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / n + eps);
    for (let j = 0; j < n; j++) {
      const b = bias && bi ? (bias.data[bi[j] as number] as number) : 0;
      out[o + j] = ((x.data[o + j] as number) - mean) * rstd * (scale.data[si[j] as number] as number) + b;
    }
  }
  return { shape: x.shape, data: out };
}

function softmax(x: Tensor, axisIn: number): Tensor {
  const axis = axisOf(axisIn, x.shape.length);
  const mx = reduce(x, [axis], true, -Infinity, Math.max, (a) => a);
  const e = elementwise([x, mx], (v, m) => Math.exp((v as number) - (m as number)));
  const s = reduce(e, [axis], true, 0, (a, v) => a + v, (a) => a);
  return elementwise([e, s], (v, t) => (v as number) / (t as number));
}

type Kernel = (ins: readonly (Tensor | undefined)[], attrs: Attrs) => Tensor;
const need = (t: Tensor | undefined): Tensor => {
  if (!t) throw new Error('missing input');
  return t;
};

function castValue(v: number, to: number): number {
  switch (elemTypeToDtype(to)) {
    case 'float32':
      return v; // float32 rounding is deliberately not emulated: this is a float64 reference
    case 'int32':
    case 'int64':
      return Math.trunc(v);
    case 'uint8':
      return Math.trunc(v) & 255;
    case 'bool':
      return v !== 0 ? 1 : 0;
    case null:
      throw new Error(`Cast: unsupported target ${to}`);
  }
}

const KERNELS: Readonly<Record<string, Kernel>> = {
  MatMul: (i) => matmul(need(i[0]), need(i[1])),
  Gemm: (i, a) => {
    const A0 = need(i[0]);
    const B0 = need(i[1]);
    const A = intAttr(a, 'transA', 0) ? transpose(A0, [1, 0]) : A0;
    const B = intAttr(a, 'transB', 0) ? transpose(B0, [1, 0]) : B0;
    const alpha = floatAttr(a, 'alpha', 1);
    const beta = floatAttr(a, 'beta', 1);
    const y = elementwise([matmul(A, B)], (v) => alpha * (v as number));
    return i[2] ? elementwise([y, i[2]], (v, c) => (v as number) + beta * (c as number)) : y;
  },
  Softmax: (i, a) => softmax(need(i[0]), intAttr(a, 'axis', -1)),
  ReduceSum: (i, a) => {
    const axes = ints(i[1]);
    if ((!axes || axes.length === 0) && intAttr(a, 'noop_with_empty_axes', 0)) return need(i[0]);
    return reduce(need(i[0]), axes, intAttr(a, 'keepdims', 1) !== 0, 0, (s, v) => s + v, (s) => s);
  },
  ReduceMean: (i, a) => reduce(need(i[0]), intsAttr(a, 'axes'), intAttr(a, 'keepdims', 1) !== 0, 0, (s, v) => s + v, (s, n) => s / n),
  ReduceMax: (i, a) => reduce(need(i[0]), intsAttr(a, 'axes'), intAttr(a, 'keepdims', 1) !== 0, -Infinity, Math.max, (s) => s),
  Reshape: (i) => ({ shape: reshapeTarget(need(i[0]), ints(need(i[1])) as number[]), data: need(i[0]).data }),
  Transpose: (i, a) => {
    const x = need(i[0]);
    return transpose(x, intsAttr(a, 'perm') ?? x.shape.map((_, k) => x.shape.length - 1 - k));
  },
  Concat: (i, a) => concat(i.map(need), intAttr(a, 'axis', 0)),
  Slice: (i) => sliceT(need(i[0]), ints(need(i[1])) as number[], ints(need(i[2])) as number[], ints(i[3]), ints(i[4])),
  Unsqueeze: (i) => {
    const x = need(i[0]);
    const axes = ints(need(i[1])) as number[];
    const r = x.shape.length + axes.length;
    const set = new Set(axes.map((k) => axisOf(k, r)));
    const shape: number[] = [];
    let j = 0;
    for (let k = 0; k < r; k++) shape.push(set.has(k) ? 1 : (x.shape[j++] as number));
    return { shape, data: x.data };
  },
  Squeeze: (i) => {
    const x = need(i[0]);
    const axes = (ints(i[1]) ?? x.shape.flatMap((d, k) => (d === 1 ? [k] : []))).map((k) => axisOf(k, x.shape.length));
    return { shape: x.shape.filter((_, k) => !axes.includes(k)), data: x.data };
  },
  Expand: (i) => {
    const x = need(i[0]);
    const target = ints(need(i[1])) as number[];
    return elementwise([x, { shape: target, data: new Float64Array(numElements(target)) }], (v) => v as number);
  },
  Cast: (i, a) => {
    const to = intAttr(a, 'to', 1);
    const x = need(i[0]);
    return { shape: x.shape, data: x.data.map((v) => castValue(v, to)) };
  },
  LayerNormalization: (i, a) => layerNorm(need(i[0]), need(i[1]), i[2], intAttr(a, 'axis', -1), floatAttr(a, 'epsilon', 1e-5)),
};

function runNode(node: GraphNode, ins: readonly (Tensor | undefined)[]): Tensor {
  const unary = UNARY[node.op];
  if (unary) return elementwise([need(ins[0])], (v) => unary(v as number));
  const nary = NARY[node.op];
  if (nary) return elementwise(ins.map(need), nary);
  const k = KERNELS[node.op];
  if (!k) throw new Error(`interpret: unsupported op ${node.op}`);
  return k(ins, node.attrs);
}

/** Ops this interpreter can evaluate. */
export const INTERPRETED_OPS: readonly string[] = [...Object.keys(UNARY), ...Object.keys(NARY), ...Object.keys(KERNELS)];

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Evaluate `graph` in float64. `feeds` supplies every graph input by name (shape from the graph);
 * returns the requested value names (default: graph outputs). Any named value may be requested.
 */
export function evaluate(graph: Graph, feeds: Readonly<Record<string, FeedData>>, outputs?: readonly string[]): Record<string, Tensor> {
  const env = new Map<string, Tensor>();
  for (const init of graph.initializers) env.set(init.name, { shape: [...init.shape], data: toF64(init.data) });
  for (const inp of graph.inputs) {
    const f = feeds[inp.name];
    if (f === undefined) {
      if (env.has(inp.name)) continue; // input with an initializer default
      throw new Error(`evaluate: missing feed for input ${inp.name}`);
    }
    if (f.length !== numElements(inp.shape)) throw new Error(`evaluate: feed ${inp.name} has ${f.length} values, shape ${fmt(inp.shape)}`);
    env.set(inp.name, { shape: [...inp.shape], data: toF64(f) });
  }
  for (const node of graph.nodes) {
    const ins = node.inputs.map((n) => {
      if (n === '') return undefined;
      const t = env.get(n);
      if (!t) throw new Error(`evaluate: ${node.op} reads ${n} before it is defined`);
      return t;
    });
    // Optional extra outputs (e.g. LayerNormalization's Mean/InvStdDev) are not modelled here.
    if (node.outputs.filter((o) => o !== '').length > 1) throw new Error(`evaluate: ${node.op} with several outputs is not supported`);
    let y: Tensor;
    try {
      y = runNode(node, ins);
    } catch (e) {
      throw new Error(`evaluate: ${node.op} (${node.name ?? node.outputs[0]}) on ${ins.map((t) => fmt(t?.shape ?? [])).join(', ')}: ${(e as Error).message}`);
    }
    const out = node.outputs[0] as string;
    const declared = graph.valueInfo.get(out);
    if (declared && !sameShape(declared.shape, y.shape)) {
      throw new Error(`evaluate: ${node.op} produced ${fmt(y.shape)} for ${out}, graph declares ${fmt(declared.shape)}`);
    }
    env.set(out, y);
  }
  const names = outputs ?? graph.outputs.map((o) => o.name);
  const res: Record<string, Tensor> = {};
  for (const n of names) {
    const t = env.get(n);
    if (!t) throw new Error(`evaluate: unknown value ${n}`);
    res[n] = t;
  }
  return res;
}
