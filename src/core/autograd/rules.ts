// Reverse-mode rules, one per op. A rule receives the forward node's operands and the gradients
// of its outputs and emits backward nodes on the same builder, returning one gradient per input
// (undefined = zero / not needed). Rules must use only BACKWARD_OPS and may create int64
// *constants* (axes, shapes) but never int64 runtime tensors.

import type { GraphBuilder, Value } from '../onnx/builder';
import { attrFloat, attrInt, attrInts, fmtShape, normAxis, sliceRange } from '../onnx/shape-rules';
import type { GraphNode, Shape } from '../onnx/graph';
import { geluRule } from './composites';
import type { GradContext, GradRule } from './grad-rule';

/** Ops that backward graphs may contain (all supported by ORT's WebGPU and WASM EPs). */
export const BACKWARD_OPS: ReadonlySet<string> = new Set([
  'MatMul', 'Gemm', 'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Sqrt', 'Pow', 'Exp', 'Log', 'Erf', 'Where',
  'ReduceSum', 'ReduceMean', 'Reshape', 'Transpose', 'Concat', 'Slice', 'Expand', 'Cast', 'Identity',
  'Greater', 'Equal', 'Min', 'Max',
]);

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Sum a broadcast gradient back to `target` (numpy broadcasting in reverse): ReduceSum over the
 * leading extra axes and over axes where the target had size 1, then Reshape to the target shape.
 */
export function unbroadcast(b: GraphBuilder, g: Value, target: Shape): Value {
  if (sameShape(g.shape, target)) return g;
  const lead = g.shape.length - target.length;
  if (lead < 0) throw new Error(`unbroadcast: gradient ${fmtShape(g.shape)} has lower rank than ${fmtShape(target)}`);
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (target[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const summed = axes.length > 0 ? b.reduceSum(g, axes, true) : g;
  return sameShape(summed.shape, target) ? summed : b.reshape(summed, target);
}

/** Reshape unless `v` already has `shape` (no node for no-op reshapes). */
function reshapeTo(b: GraphBuilder, v: Value, shape: Shape): Value {
  return sameShape(v.shape, shape) ? v : b.reshape(v, shape);
}

/** Swap the last two axes. */
function mT(b: GraphBuilder, v: Value): Value {
  const r = v.shape.length;
  const perm = v.shape.map((_, i) => i);
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return b.transpose(v, perm);
}

const req = (v: Value | undefined): Value => {
  if (!v) throw new Error('gradient rule: missing operand');
  return v;
};

/** Single-input rule whose gradient is gy ⊙ f(x, y). */
const pointwise =
  (f: (b: GraphBuilder, x: Value, y: Value) => Value): GradRule =>
  ({ b, x, y, gy }) => [b.mul(gy, f(b, req(x[0]), req(y[0])))];

const reshapeBack: GradRule = ({ b, x, gy }) => [reshapeTo(b, gy, req(x[0]).shape)];

/** Axes reduced by a Reduce* node, normalised; all axes when omitted. */
function reducedAxes(c: GradContext, axes: readonly number[] | undefined): number[] {
  const x = req(c.x[0]);
  const r = x.shape.length;
  return axes && axes.length > 0 ? axes.map((a) => normAxis(a, r, c.node.op)) : x.shape.map((_, i) => i);
}

/** Gradient of a reduction, restored to keepdims shape (so that it broadcasts against x). */
function keptGrad(c: GradContext, axes: readonly number[]): Value {
  const x = req(c.x[0]);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return sameShape(c.gy.shape, kept) ? c.gy : c.b.reshape(c.gy, kept);
}

function constInts(b: GraphBuilder, node: GraphNode, i: number): number[] | undefined {
  const name = node.inputs[i];
  if (!name) return undefined;
  const init = b.constantOf(name);
  if (!init || !(init.data instanceof BigInt64Array)) throw new Error(`${node.op}: input ${i} must be a constant`);
  return Array.from(init.data, Number);
}

function int64Input(c: GradContext, i: number): number[] | undefined {
  return constInts(c.b, c.node, i);
}

/** A Slice node's spans per sliced axis (constant bounds resolved and clamped as ONNX does). */
export function sliceSpans(b: GraphBuilder, node: GraphNode): { axis: number; dim: number; start: number; step: number }[] {
  const x = b.info(node.inputs[0] as string);
  const starts = constInts(b, node, 1) as number[];
  const ends = constInts(b, node, 2) as number[];
  const axes = constInts(b, node, 3) ?? starts.map((_, i) => i);
  const steps = constInts(b, node, 4) ?? starts.map(() => 1);
  return axes.map((a, i) => {
    const axis = normAxis(a, x.shape.length, 'Slice');
    const dim = x.shape[axis] as number;
    const [start, step] = sliceRange(dim, starts[i] as number, ends[i] as number, steps[i] as number);
    return { axis, dim, start, step };
  });
}

/** Gradient of a Slice along one axis: place g back into a zero tensor of length `dim`. */
function unsliceAxis(b: GraphBuilder, g: Value, axis: number, dim: number, start: number, step: number): Value {
  const len = g.shape[axis] as number;
  if (step === 1) {
    // Zero-padding via Concat keeps it cheap; zeros come from Expand (no large initializers).
    const before = start;
    const after = dim - start - len;
    const pad = (n: number): Value => b.zeros(g.shape.map((d, i) => (i === axis ? n : d)));
    const parts = [...(before > 0 ? [pad(before)] : []), g, ...(after > 0 ? [pad(after)] : [])];
    return parts.length === 1 ? g : b.concat(parts, axis);
  }
  // General step: the slice is a one-hot selection S [len, dim]; its transpose scatters back.
  const S = new Float32Array(len * dim);
  for (let k = 0; k < len; k++) S[k * dim + start + k * step] = 1;
  const r = g.shape.length;
  const perm = g.shape.map((_, i) => i);
  perm[axis] = r - 1;
  perm[r - 1] = axis;
  const moved = axis === r - 1 ? g : b.transpose(g, perm);
  const scattered = b.matmul(moved, b.constant(S, [len, dim], 'float32'));
  return axis === r - 1 ? scattered : b.transpose(scattered, perm);
}

export const GRAD_RULES: Readonly<Record<string, GradRule>> = {
  Identity: ({ gy }) => [gy],
  Add: ({ b, x, gy, needs }) => [needs[0] ? unbroadcast(b, gy, req(x[0]).shape) : undefined, needs[1] ? unbroadcast(b, gy, req(x[1]).shape) : undefined],
  Sub: ({ b, x, gy, needs }) => [unbroadcast(b, gy, req(x[0]).shape), needs[1] ? unbroadcast(b, b.neg(gy), req(x[1]).shape) : undefined],
  Mul: ({ b, x, gy, needs }) => [
    needs[0] ? unbroadcast(b, b.mul(gy, req(x[1])), req(x[0]).shape) : undefined,
    needs[1] ? unbroadcast(b, b.mul(gy, req(x[0])), req(x[1]).shape) : undefined,
  ],
  // d(a/b)/db = -a/b² = -y/b
  Div: ({ b, x, y, gy, needs }) => [
    needs[0] ? unbroadcast(b, b.div(gy, req(x[1])), req(x[0]).shape) : undefined,
    needs[1] ? unbroadcast(b, b.neg(b.mul(gy, b.div(req(y[0]), req(x[1])))), req(x[1]).shape) : undefined,
  ],
  Pow: ({ b, x, y, gy, needs }) => {
    const [a, e] = [req(x[0]), req(x[1])];
    return [
      needs[0] ? unbroadcast(b, b.mul(gy, b.mul(e, b.pow(a, b.sub(e, b.scalar(1))))), a.shape) : undefined,
      needs[1] ? unbroadcast(b, b.mul(gy, b.mul(req(y[0]), b.log(a))), e.shape) : undefined,
    ];
  },
  Neg: ({ b, gy }) => [b.neg(gy)],
  Sqrt: pointwise((b, _x, y) => b.div(b.scalar(0.5), y)),
  Exp: pointwise((_b, _x, y) => y),
  Log: ({ b, x, gy }) => [b.div(gy, req(x[0]))],
  Tanh: pointwise((b, _x, y) => b.sub(b.scalar(1), b.mul(y, y))),
  Sigmoid: pointwise((b, _x, y) => b.mul(y, b.sub(b.scalar(1), y))),
  Erf: pointwise((b, x) => b.mul(b.scalar(2 / Math.sqrt(Math.PI)), b.exp(b.neg(b.mul(x, x))))),
  Relu: ({ b, x, gy }) => [b.where(b.greater(req(x[0]), b.scalar(0)), gy, b.scalar(0))],
  Where: ({ b, x, gy, needs }) => {
    const zero = b.scalar(0);
    const c = req(x[0]);
    return [
      undefined,
      needs[1] ? unbroadcast(b, b.where(c, gy, zero), req(x[1]).shape) : undefined,
      needs[2] ? unbroadcast(b, b.where(c, zero, gy), req(x[2]).shape) : undefined,
    ];
  },
  // dx = y ⊙ (g − Σ_axis g ⊙ y)
  Softmax: ({ b, node, y, gy }) => {
    const s = req(y[0]);
    const axis = normAxis(attrInt(node.attrs, 'axis', -1), s.shape.length, 'Softmax');
    return [b.mul(s, b.sub(gy, b.reduceSum(b.mul(gy, s), [axis], true)))];
  },
  ReduceSum: (c) => {
    if (!c.x[1] && attrInt(c.node.attrs, 'noop_with_empty_axes', 0)) return [c.gy];
    const axes = reducedAxes(c, int64Input(c, 1));
    return [c.b.expand(keptGrad(c, axes), req(c.x[0]).shape)];
  },
  ReduceMean: (c) => {
    const x = req(c.x[0]);
    const axes = reducedAxes(c, attrInts(c.node.attrs, 'axes'));
    const n = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
    return [c.b.expand(c.b.mul(keptGrad(c, axes), c.b.scalar(1 / n)), x.shape)];
  },
  // Ties share the gradient equally (like torch.amax).
  ReduceMax: (c) => {
    const { b } = c;
    const x = req(c.x[0]);
    const axes = reducedAxes(c, attrInts(c.node.attrs, 'axes'));
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const y = req(c.y[0]);
    const yk = sameShape(y.shape, kept) ? y : b.reshape(y, kept);
    const mask = b.cast(b.equal(x, yk), 'float32');
    const count = b.reduceSum(mask, axes, true);
    return [b.mul(mask, b.div(keptGrad(c, axes), count))];
  },
  Reshape: reshapeBack,
  Unsqueeze: reshapeBack,
  Squeeze: reshapeBack,
  Transpose: ({ b, node, x, gy }) => {
    const r = req(x[0]).shape.length;
    const perm = attrInts(node.attrs, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const inv = new Array<number>(r);
    perm.forEach((p, i) => (inv[p] = i));
    return [b.transpose(gy, inv)];
  },
  Concat: ({ b, node, x, gy, needs }) => {
    const axis = normAxis(attrInt(node.attrs, 'axis', 0), gy.shape.length, 'Concat');
    let off = 0;
    return x.map((xi, i) => {
      const len = req(xi).shape[axis] as number;
      const start = off;
      off += len;
      return needs[i] ? b.slice(gy, [start], [start + len], [axis]) : undefined;
    });
  },
  Slice: (c) => {
    let g = c.gy;
    for (const sp of sliceSpans(c.b, c.node)) g = unsliceAxis(c.b, g, sp.axis, sp.dim, sp.start, sp.step);
    return [g];
  },
  Expand: ({ b, x, gy }) => [unbroadcast(b, gy, req(x[0]).shape)],
  Cast: ({ x, gy }) => [req(x[0]).dtype === 'float32' ? gy : undefined],
  MatMul: ({ b, x, gy, needs }) => {
    const [A, B] = [req(x[0]), req(x[1])];
    // Promote 1-D operands as ONNX does, so one 2-D+ formula covers every case.
    const A2 = A.shape.length === 1 ? b.reshape(A, [1, A.shape[0] as number]) : A;
    const B2 = B.shape.length === 1 ? b.reshape(B, [B.shape[0] as number, 1]) : B;
    const M = A2.shape[A2.shape.length - 2] as number;
    const N = B2.shape[B2.shape.length - 1] as number;
    const batch = gy.shape.slice(0, gy.shape.length - (A.shape.length > 1 ? 1 : 0) - (B.shape.length > 1 ? 1 : 0));
    const g2 = reshapeTo(b, gy, [...batch, M, N]);
    let gA: Value | undefined;
    let gB: Value | undefined;
    if (needs[0]) gA = reshapeTo(b, unbroadcast(b, b.matmul(g2, mT(b, B2)), A2.shape), A.shape);
    if (needs[1]) {
      if (B2.shape.length === 2 && A2.shape.length > 2) {
        // Linear layer on a batch: fold batch dims into rows for one 2-D MatMul (no ReduceSum).
        const K = A2.shape[A2.shape.length - 1] as number;
        const a2d = b.reshape(A2, [-1, K]);
        gB = b.gemm(a2d, reshapeTo(b, g2, [g2.shape.slice(0, -1).reduce((p, d) => p * d, 1), N]), undefined, { transA: true });
      } else {
        gB = unbroadcast(b, b.matmul(mT(b, A2), g2), B2.shape);
      }
      gB = reshapeTo(b, gB, B.shape);
    }
    return [gA, gB];
  },
  // Y = α·op(A)·op(B) + β·C, with op = transpose when transA/transB.
  Gemm: ({ b, node, x, gy, needs }) => {
    const [A, B, C] = [req(x[0]), req(x[1]), x[2]];
    const ta = attrInt(node.attrs, 'transA', 0) !== 0;
    const tb = attrInt(node.attrs, 'transB', 0) !== 0;
    const alpha = attrFloat(node.attrs, 'alpha', 1);
    const beta = attrFloat(node.attrs, 'beta', 1);
    // dA = α·g·op(B)ᵀ (transposed back if transA); dB = α·op(A)ᵀ·g (transposed back if transB).
    const gA = !needs[0] ? undefined : ta ? b.gemm(B, gy, undefined, { alpha, transA: tb, transB: true }) : b.gemm(gy, B, undefined, { alpha, transB: !tb });
    const gB = !needs[1] ? undefined : tb ? b.gemm(gy, A, undefined, { alpha, transA: true, transB: ta }) : b.gemm(A, gy, undefined, { alpha, transA: !ta });
    const gC = needs[2] && C ? unbroadcast(b, beta === 1 ? gy : b.mul(gy, b.scalar(beta)), C.shape) : undefined;
    return [gA, gB, gC];
  },
  // Composite regions (see composites.ts).
  Gelu: geluRule,
  // Recompute the statistics with primitive ops:
  // dx = rstd ⊙ (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂)), ĝ = g ⊙ scale.
  LayerNormalization: ({ b, node, x, gy, needs }) => {
    const [X, scale, bias] = [req(x[0]), req(x[1]), x[2]];
    const r = X.shape.length;
    const axis = normAxis(attrInt(node.attrs, 'axis', -1), r, 'LayerNormalization');
    const eps = attrFloat(node.attrs, 'epsilon', 1e-5);
    const axes = Array.from({ length: r - axis }, (_, i) => axis + i);
    const xc = b.sub(X, b.reduceMean(X, axes, true));
    const rstd = b.div(b.scalar(1), b.sqrt(b.add(b.reduceMean(b.mul(xc, xc), axes, true), b.scalar(eps))));
    const xhat = b.mul(xc, rstd);
    let gX: Value | undefined;
    if (needs[0]) {
      const gh = b.mul(gy, scale);
      const inner = b.sub(b.sub(gh, b.reduceMean(gh, axes, true)), b.mul(xhat, b.reduceMean(b.mul(gh, xhat), axes, true)));
      gX = b.mul(rstd, inner);
    }
    return [
      gX,
      needs[1] ? unbroadcast(b, b.mul(gy, xhat), scale.shape) : undefined,
      needs[2] && bias ? unbroadcast(b, gy, bias.shape) : undefined,
    ];
  },
};
