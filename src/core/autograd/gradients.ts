// Reverse-mode differentiation over a GraphBuilder's nodes.

import { fmtShape, type GraphBuilder, type Value } from '../onnx/builder';
import type { GraphNode } from '../onnx/graph';
import { BACKWARD_OPS, GRAD_RULES, type GradRule } from './rules';

export interface GradientOptions {
  /** Override or add rules (tests inject deliberately wrong ones to prove the checker works). */
  readonly rules?: Readonly<Record<string, GradRule>>;
  /** Gradient to seed `loss` with (default: ones of loss's shape). */
  readonly seed?: Value;
}

/**
 * Emit backward nodes on `b` computing d(sum of loss)/d(w) for each `w` in `wrt`.
 * A w that the loss does not depend on gets an explicit zero tensor.
 */
export function gradients(b: GraphBuilder, loss: Value, wrt: readonly Value[], opts: GradientOptions = {}): Value[] {
  if (loss.dtype !== 'float32') throw new Error(`gradients: loss ${loss.name} must be float32, got ${loss.dtype}`);
  const forward: readonly GraphNode[] = b.nodes.slice();
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
  const accumulate = (name: string, g: Value): void => {
    const prev = grads.get(name);
    grads.set(name, prev ? b.add(prev, g) : g);
  };
  accumulate(loss.name, opts.seed ?? b.expand(b.scalar(1), loss.shape));

  const rules = { ...GRAD_RULES, ...opts.rules };
  const firstBackward = b.nodes.length;
  for (const node of active) {
    const gy = grads.get(node.outputs[0] as string);
    if (!gy) continue;
    if (node.outputs.slice(1).some((o) => grads.has(o))) throw new Error(`gradients: ${node.op} differentiates only through its first output`);
    const rule = rules[node.op];
    if (!rule) throw new Error(`gradients: no gradient rule for op ${node.op}`);
    const x = node.inputs.map((n) => (n ? b.info(n) : undefined));
    const needs = x.map((v) => v !== undefined && v.dtype === 'float32' && fromWrt.has(v.name) && toLoss.has(v.name));
    const gx = rule({ b, node, x, y: node.outputs.map((o) => b.info(o)), gy, needs });
    gx.forEach((g, i) => {
      const xi = x[i];
      if (!g || !xi || !needs[i]) return;
      if (g.dtype !== 'float32' || fmtShape(g.shape) !== fmtShape(xi.shape)) {
        throw new Error(`gradients: rule for ${node.op} returned ${g.dtype}${fmtShape(g.shape)} for input ${xi.name} of ${xi.dtype}${fmtShape(xi.shape)}`);
      }
      accumulate(xi.name, g);
    });
  }

  for (const n of b.nodes.slice(firstBackward)) {
    if (!BACKWARD_OPS.has(n.op)) throw new Error(`gradients: backward pass emitted non-whitelisted op ${n.op}`);
  }
  return wrt.map((w) => grads.get(w.name) ?? b.zeros(w.shape));
}
