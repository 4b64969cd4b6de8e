// Shape inference for GraphBuilder: one rule per op (SHAPE_RULES), the attribute readers and shape
// helpers the builder, the interpreter's checks and autograd share. Kept apart from the builder so
// that the one place that knows each op's shape semantics reads on its own.

import { numElements, type Attrs, type DType, type Shape, type ValueInfo } from './graph';
import { elemTypeToDtype } from './elem-types';

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

export interface ShapeCtx {
  readonly op: string;
  readonly ins: readonly (ValueInfo | undefined)[];
  readonly attrs: Attrs;
  /** Contents of a constant int64 input (needed for Reshape/Slice/... at build time). */
  constInts(i: number): number[] | undefined;
}
export type ShapeRule = (c: ShapeCtx) => TypeShape[];

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

export const SHAPE_RULES: Readonly<Record<string, ShapeRule>> = {
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
