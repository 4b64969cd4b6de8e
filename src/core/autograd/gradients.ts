// Reverse-mode differentiation over a GraphBuilder's nodes.

import type { CompositeRegion, GraphBuilder, Value } from '../onnx/builder';
import { fmtShape } from '../onnx/shape-rules';
import type { GraphNode } from '../onnx/graph';
import type { GradRule } from './grad-rule';
import { BACKWARD_OPS, GRAD_RULES, sliceSpans } from './rules';

export interface GradientOptions {
  /** Override or add rules (tests inject deliberately wrong ones to prove the checker works). */
  readonly rules?: Readonly<Record<string, GradRule>>;
  /** Gradient to seed `loss` with (default: ones of loss's shape). */
  readonly seed?: Value;
}

/**
 * The forward node list with every self-contained composite region (that has a rule) replaced by
 * one pseudo-node of op `region.op`; `saved` maps those pseudo-nodes to their regions.
 */
function withComposites(b: GraphBuilder, rules: Readonly<Record<string, GradRule>>): { nodes: GraphNode[]; saved: Map<GraphNode, CompositeRegion> } {
  const nodes = b.nodes;
  const saved = new Map<GraphNode, CompositeRegion>();
  if (b.composites.length === 0) return { nodes: nodes.slice(), saved };
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const x of n.inputs) {
      if (!x) continue;
      const list = consumers.get(x);
      if (list) list.push(i);
      else consumers.set(x, [i]);
    }
  });
  const graphOutputs = new Set(b.outputs.map((o) => o.name));
  const byStart = new Map<number, CompositeRegion>();
  for (const r of b.composites) {
    if (!rules[r.op]) continue;
    const inputs = new Set(r.inputs);
    const interior = new Set<string>();
    let ok = true;
    for (let i = r.start; i < r.end && ok; i++) {
      const n = nodes[i] as GraphNode;
      // Every operand is a listed input, an earlier interior value or a constant.
      ok = n.inputs.every((x) => !x || inputs.has(x) || interior.has(x) || b.constantOf(x) !== undefined);
      for (const o of n.outputs) {
        if (o === r.output) continue;
        interior.add(o);
        if (graphOutputs.has(o) || (consumers.get(o) ?? []).some((c) => c < r.start || c >= r.end)) ok = false;
      }
    }
    if (ok) byStart.set(r.start, r);
  }
  const out: GraphNode[] = [];
  for (let i = 0; i < nodes.length; ) {
    const r = byStart.get(i);
    if (!r) {
      out.push(nodes[i++] as GraphNode);
      continue;
    }
    const pseudo: GraphNode = { op: r.op, inputs: [...r.inputs], outputs: [r.output], attrs: {}, name: `composite_${r.op}_${r.start}` };
    saved.set(pseudo, r);
    out.push(pseudo);
    i = r.end;
  }
  return { nodes: out, saved };
}

/** Gradient of a step-1 Slice along one axis, not yet placed into its input's shape. */
interface SlicePiece {
  readonly axis: number;
  readonly start: number;
  readonly g: Value;
}

/**
 * Sum the slice pieces of one value's gradient. Disjoint pieces along one axis become one Concat
 * (zero blocks only for the gaps) instead of a zero-padded full-size tensor per piece plus Adds:
 * e.g. q/k/v slices of a [B, N, 3D] activation give back one [B, N, 3D] Concat.
 */
function mergePieces(b: GraphBuilder, target: Value, pieces: readonly SlicePiece[]): Value {
  const chains: { axis: number; end: number; parts: SlicePiece[] }[] = [];
  for (const p of [...pieces].sort((u, v) => u.axis - v.axis || u.start - v.start)) {
    const chain = chains.find((c) => c.axis === p.axis && c.end <= p.start);
    const end = p.start + (p.g.shape[p.axis] as number);
    if (chain) {
      chain.parts.push(p);
      chain.end = end;
    } else chains.push({ axis: p.axis, end, parts: [p] });
  }
  const sums = chains.map(({ axis, parts }) => {
    const dim = target.shape[axis] as number;
    const zeros = (n: number): Value => b.zeros(target.shape.map((d, i) => (i === axis ? n : d)));
    const seq: Value[] = [];
    let at = 0;
    for (const p of parts) {
      if (p.start > at) seq.push(zeros(p.start - at));
      seq.push(p.g);
      at = p.start + (p.g.shape[axis] as number);
    }
    if (at < dim) seq.push(zeros(dim - at));
    return seq.length === 1 ? (seq[0] as Value) : b.concat(seq, axis);
  });
  return sums.reduce((acc, g) => b.add(acc, g));
}

/**
 * Emit backward nodes on `b` computing d(sum of loss)/d(w) for each `w` in `wrt`.
 * A w that the loss does not depend on gets an explicit zero tensor.
 */
export function gradients(b: GraphBuilder, loss: Value, wrt: readonly Value[], opts: GradientOptions = {}): Value[] {
  if (loss.dtype !== 'float32') throw new Error(`gradients: loss ${loss.name} must be float32, got ${loss.dtype}`);
  const rules = { ...GRAD_RULES, ...opts.rules };
  const { nodes: forward, saved } = withComposites(b, rules);
  const wrtNames = new Set(wrt.map((w) => w.name));

  // Nodes both reachable from some w (forward) and reaching the loss (backward) need a rule.
  const fromWrt = new Set(wrtNames);
  for (const n of forward) if (n.inputs.some((i) => fromWrt.has(i))) for (const o of n.outputs) fromWrt.add(o);
  const toLoss = new Set([loss.name]);
  const active: GraphNode[] = [];
  for (let i = forward.length - 1; i >= 0; i--) {
    const n = forward[i] as GraphNode;
    if (!n.outputs.some((o) => toLoss.has(o)) || !n.inputs.some((x) => fromWrt.has(x))) continue;
    active.push(n); // reverse topological order
    for (const x of n.inputs) if (x) toLoss.add(x);
  }

  const grads = new Map<string, Value>();
  const pieces = new Map<string, SlicePiece[]>();
  const accumulate = (name: string, g: Value): void => {
    const prev = grads.get(name);
    grads.set(name, prev ? b.add(prev, g) : g);
  };
  // A value's gradient is complete once its producer is reached (reverse topological order).
  const gradOf = (name: string): Value | undefined => {
    const ps = pieces.get(name);
    if (ps) {
      pieces.delete(name);
      accumulate(name, mergePieces(b, b.info(name), ps));
    }
    return grads.get(name);
  };
  const sliceAsPiece = !opts.rules?.Slice;
  accumulate(loss.name, opts.seed ?? b.expand(b.scalar(1), loss.shape));

  const firstBackward = b.nodes.length;
  for (const node of active) {
    const gy = gradOf(node.outputs[0] as string);
    if (!gy) continue;
    if (node.outputs.slice(1).some((o) => grads.has(o) || pieces.has(o))) throw new Error(`gradients: ${node.op} differentiates only through its first output`);
    const rule = rules[node.op];
    if (!rule) throw new Error(`gradients: no gradient rule for op ${node.op}`);
    const x = node.inputs.map((n) => (n ? b.info(n) : undefined));
    const needs = x.map((v) => v !== undefined && v.dtype === 'float32' && fromWrt.has(v.name) && toLoss.has(v.name));
    if (node.op === 'Slice' && sliceAsPiece) {
      const spans = sliceSpans(b, node);
      const sp = spans[0];
      const input = node.inputs[0] as string;
      if (needs[0] && spans.length === 1 && sp && sp.step === 1) {
        pieces.set(input, [...(pieces.get(input) ?? []), { axis: sp.axis, start: sp.start, g: gy }]);
        continue;
      }
    }
    const region = saved.get(node);
    const gx = rule({ b, node, x, y: node.outputs.map((o) => b.info(o)), gy, needs, ...(region ? { saved: region.saved } : {}) });
    gx.forEach((g, i) => {
      const xi = x[i];
      if (!g || !xi || !needs[i]) return;
      if (g.dtype !== 'float32' || fmtShape(g.shape) !== fmtShape(xi.shape)) {
        throw new Error(`gradients: rule for ${node.op} returned ${g.dtype}${fmtShape(g.shape)} for input ${xi.name} of ${xi.dtype}${fmtShape(xi.shape)}`);
      }
      accumulate(xi.name, g);
    });
  }

  const out = wrt.map((w) => gradOf(w.name) ?? b.zeros(w.shape));
  for (const n of b.nodes.slice(firstBackward)) {
    if (!BACKWARD_OPS.has(n.op)) throw new Error(`gradients: backward pass emitted non-whitelisted op ${n.op}`);
  }
  return out;
}
