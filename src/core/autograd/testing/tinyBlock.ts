// A tiny pre-norm transformer block used by the training and golden tests. Its definition,
// parameter layout (x @ W, W is [in, out]) and deterministic LCG init are mirrored exactly by
// scripts/golden/adamw_block.py; change both together.

import type { GraphBuilder, Value } from '../../onnx/builder';
import type { Shape } from '../../onnx/graph';
import { lcg } from '../gradcheck';

export interface BlockConfig {
  readonly batch: number;
  readonly seq: number;
  readonly dim: number;
  readonly heads: number;
  readonly mlp: number;
  readonly eps: number;
}

/** Param names and shapes, in the order the LCG fills them. */
export function blockParamShapes(c: BlockConfig): readonly (readonly [string, Shape])[] {
  const D = c.dim;
  return [
    ['ln1.weight', [D]],
    ['ln1.bias', [D]],
    ['attn.qkv.weight', [D, 3 * D]],
    ['attn.proj.weight', [D, D]],
    ['attn.proj.bias', [D]],
    ['ln2.weight', [D]],
    ['ln2.bias', [D]],
    ['mlp.fc1.weight', [D, c.mlp]],
    ['mlp.fc1.bias', [c.mlp]],
    ['mlp.fc2.weight', [c.mlp, D]],
    ['mlp.fc2.bias', [D]],
  ];
}

/**
 * Deterministic init from one LCG stream: weights U(-1,1)/sqrt(fan_in), biases 0.1·U(-1,1),
 * LayerNorm weights 1 + 0.1·U(-1,1). Values are rounded to float32 last.
 */
export function initBlockParams(c: BlockConfig, seed: number): Record<string, Float32Array> {
  const r = lcg(seed);
  const out: Record<string, Float32Array> = {};
  for (const [name, shape] of blockParamShapes(c)) {
    const n = shape.reduce((p, d) => p * d, 1);
    const isLnWeight = name.startsWith('ln') && name.endsWith('.weight');
    const scale = shape.length === 2 ? 1 / Math.sqrt(shape[0] as number) : 0.1;
    out[name] = Float32Array.from({ length: n }, () => {
      const u = r() * 2 - 1;
      return isLnWeight ? 1 + 0.1 * u : u * scale;
    });
  }
  return out;
}

/** Uniform(-1,1) float32 data from an LCG stream. */
export function lcgUniform(n: number, seed: number): Float32Array {
  const r = lcg(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

/** out = h + MLP(LN2(h)), h = x + Attn(LN1(x)); exact-erf GELU; no qkv bias. */
export function blockForward(b: GraphBuilder, c: BlockConfig, p: Readonly<Record<string, Value>>, x: Value): Value {
  const P = (n: string): Value => {
    const v = p[n];
    if (!v) throw new Error(`missing param ${n}`);
    return v;
  };
  const { batch: B, seq: T, dim: D, heads: H } = c;
  const hd = D / H;
  const h1 = b.layerNorm(x, P('ln1.weight'), P('ln1.bias'), { epsilon: c.eps });
  const qkv = b.matmul(h1, P('attn.qkv.weight'));
  const head = (k: number): Value => b.transpose(b.reshape(b.slice(qkv, [k * D], [(k + 1) * D], [2]), [B, T, H, hd]), [0, 2, 1, 3]);
  const [q, kk, v] = [head(0), head(1), head(2)];
  const scores = b.mul(b.matmul(q, b.transpose(kk, [0, 1, 3, 2])), b.scalar(1 / Math.sqrt(hd)));
  const att = b.matmul(b.softmax(scores, -1), v);
  const merged = b.reshape(b.transpose(att, [0, 2, 1, 3]), [B, T, D]);
  const h = b.add(x, b.add(b.matmul(merged, P('attn.proj.weight')), P('attn.proj.bias')));
  const h2 = b.layerNorm(h, P('ln2.weight'), P('ln2.bias'), { epsilon: c.eps });
  const f1 = b.add(b.matmul(h2, P('mlp.fc1.weight')), P('mlp.fc1.bias'));
  const gelu = b.mul(b.mul(f1, b.scalar(0.5)), b.add(b.scalar(1), b.erf(b.mul(f1, b.scalar(Math.SQRT1_2)))));
  return b.add(h, b.add(b.matmul(gelu, P('mlp.fc2.weight')), P('mlp.fc2.bias')));
}

/** Loss definition for buildTrainStep: params + inputs `x`, `target`; MSE. */
export function blockLoss(c: BlockConfig, init: Readonly<Record<string, Float32Array>>): (b: GraphBuilder) => Value {
  return (b) => {
    const p: Record<string, Value> = {};
    for (const [name, shape] of blockParamShapes(c)) p[name] = b.param(name, init[name] ?? new Float32Array(), shape);
    const x = b.input('x', [c.batch, c.seq, c.dim]);
    const target = b.input('target', [c.batch, c.seq, c.dim]);
    const d = b.sub(blockForward(b, c, p, x), target);
    return b.reduceMean(b.mul(d, d), undefined, false);
  };
}
