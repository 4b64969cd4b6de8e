import { describe, expect, it } from 'vitest';
import { ortSession } from '../../testing/ort';
import { lcg } from '../autograd/gradcheck';
import { GraphBuilder, type Value } from './builder';
import type { Shape } from './graph';
import { erf, evaluate } from './interpret';

function run(build: (b: GraphBuilder) => Value, feeds: Record<string, number[]> = {}): { shape: readonly number[]; data: number[] } {
  const b = new GraphBuilder();
  b.output(build(b), 'y');
  const r = evaluate(b.build({ paramsAs: 'input' }), feeds).y;
  if (!r) throw new Error('no output');
  return { shape: r.shape, data: Array.from(r.data) };
}

describe('interpreter: hand-checked values', () => {
  it('erf matches reference values to 1e-14', () => {
    const ref: [number, number][] = [
      [0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
      [2, 0.9953222650189527], [2.4999, 0.9995928300996666], [2.5, 0.999593047982555], [4, 0.9999999845827421], [3, 0.9999779095030014], [-1.5, -0.9661051464753108], [6, 1],
    ];
    for (const [x, e] of ref) expect(Math.abs(erf(x) - e)).toBeLessThan(1e-14);
  });

  it('MatMul with batch broadcast', () => {
    const r = run((b) => b.matmul(b.constFloat([1, 2, 3, 4, 5, 6, 7, 8], [2, 1, 2, 2]), b.constFloat([1, 0, 0, 1, 2, 0, 0, 2], [2, 2, 2])));
    expect(r.shape).toEqual([2, 2, 2, 2]);
    expect(r.data).toEqual([1, 2, 3, 4, 2, 4, 6, 8, 5, 6, 7, 8, 10, 12, 14, 16]);
  });

  it('Gemm with transposes, alpha, beta', () => {
    // Aᵀ = [[1,3],[2,4]], B = I → α·Aᵀ + β·C
    const r = run((b) => b.gemm(b.constFloat([1, 2, 3, 4], [2, 2]), b.constFloat([1, 0, 0, 1], [2, 2]), b.constFloat([10, 20], [2]), { transA: true, alpha: 2, beta: 0.5 }));
    expect(r.data).toEqual([7, 16, 9, 18]);
  });

  it('Softmax, LayerNorm', () => {
    const s = run((b) => b.softmax(b.constFloat([0, Math.log(3)], [1, 2])));
    expect(s.data[0]).toBeCloseTo(0.25, 6); // log 3 is rounded to float32
    const ln = run((b) => b.layerNorm(b.constFloat([1, 3], [1, 2]), b.constFloat([2], [1]), b.constFloat([1], [1]), { epsilon: 0 }));
    expect(ln.data[0]).toBeCloseTo(-1, 6);
    expect(ln.data[1]).toBeCloseTo(3, 6);
  });

  it('Slice with negative step and clamped bounds', () => {
    const r = run((b) => b.slice(b.constFloat([0, 1, 2, 3, 4, 5], [6]), [-1], [-100], [0], [-2]));
    expect(r.data).toEqual([5, 3, 1]);
  });

  it('checks produced shapes against the graph valueInfo', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2]);
    b.output(b.neg(x));
    const g = b.build({ paramsAs: 'input' });
    const broken = { ...g, valueInfo: new Map([[g.nodes[0]?.outputs[0] as string, { name: 'n', dtype: 'float32' as const, shape: [3] }]]) };
    expect(() => evaluate(broken, { x: [1, 2] })).toThrow(/graph declares \[3\]/);
  });
});

interface OpCase {
  readonly name: string;
  readonly shapes: readonly Shape[];
  readonly f: (b: GraphBuilder, x: readonly Value[]) => Value;
  readonly positive?: boolean;
}
const v = (xs: readonly Value[], i: number): Value => xs[i] as Value;

const OP_CASES: readonly OpCase[] = [
  { name: 'MatMul', shapes: [[2, 1, 3, 4], [3, 4, 5]], f: (b, x) => b.matmul(v(x, 0), v(x, 1)) },
  { name: 'MatMul 1-D', shapes: [[4], [2, 4, 3]], f: (b, x) => b.matmul(v(x, 0), v(x, 1)) },
  { name: 'Gemm', shapes: [[4, 2], [3, 4], [1, 3]], f: (b, x) => b.gemm(v(x, 0), v(x, 1), v(x, 2), { transA: true, transB: true, alpha: 0.5, beta: 2 }) },
  { name: 'Add/Sub/Mul/Div', shapes: [[3, 1, 4], [2, 4]], f: (b, x) => b.div(b.mul(b.sub(v(x, 0), v(x, 1)), b.add(v(x, 0), v(x, 1))), b.add(b.abs(v(x, 1)), b.scalar(1))) },
  { name: 'Pow', shapes: [[2, 3], [3]], f: (b, x) => b.pow(v(x, 0), v(x, 1)), positive: true },
  { name: 'unary chain', shapes: [[2, 5]], f: (b, x) => b.add(b.add(b.tanh(v(x, 0)), b.erf(v(x, 0))), b.add(b.relu(v(x, 0)), b.sigmoid(b.neg(v(x, 0))))) },
  { name: 'Sqrt/Log/Exp', shapes: [[6]], f: (b, x) => b.add(b.sqrt(v(x, 0)), b.log(b.exp(v(x, 0)))), positive: true },
  { name: 'Where/Greater/Less/Equal/Cast', shapes: [[3, 4], [4]], f: (b, x) => b.add(b.where(b.greater(v(x, 0), v(x, 1)), v(x, 0), v(x, 1)), b.cast(b.less(v(x, 0), b.scalar(0)), 'float32')) },
  { name: 'Min/Max', shapes: [[3, 4], [4]], f: (b, x) => b.add(b.min(v(x, 0), v(x, 1)), b.max(v(x, 0), b.scalar(0.2))) },
  { name: 'Softmax axis 1', shapes: [[2, 3, 4]], f: (b, x) => b.softmax(v(x, 0), 1) },
  { name: 'ReduceSum/Mean/Max', shapes: [[2, 3, 4]], f: (b, x) => b.add(b.add(b.reduceSum(v(x, 0), [0, 2], false), b.reduceMean(v(x, 0), [0, -1], false)), b.reduceMax(v(x, 0), [0, 2], false)) },
  { name: 'ReduceSum all', shapes: [[2, 3]], f: (b, x) => b.reduceSum(v(x, 0), undefined, false) },
  { name: 'Reshape/Transpose', shapes: [[2, 3, 4]], f: (b, x) => b.transpose(b.reshape(v(x, 0), [0, 4, -1]), [2, 0, 1]) },
  { name: 'Concat', shapes: [[2, 3], [2, 1]], f: (b, x) => b.concat([v(x, 0), v(x, 1), v(x, 0)], -1) },
  { name: 'Slice', shapes: [[5, 6]], f: (b, x) => b.slice(v(x, 0), [4, 1], [-100, 100], [0, 1], [-2, 2]) },
  { name: 'Unsqueeze/Squeeze/Expand', shapes: [[3, 1]], f: (b, x) => b.expand(b.unsqueeze(b.squeeze(v(x, 0), [1]), [0, 2]), [2, 3, 4]) },
  { name: 'LayerNormalization', shapes: [[2, 3, 5], [5], [5]], f: (b, x) => b.layerNorm(v(x, 0), v(x, 1), v(x, 2), { epsilon: 1e-5 }) },
  { name: 'LayerNormalization axis 1', shapes: [[2, 3, 4], [3, 4]], f: (b, x) => b.layerNorm(v(x, 0), v(x, 1), undefined, { axis: 1, epsilon: 1e-3 }) },
];

describe.each(['node', 'web-wasm'] as const)('interpreter agrees with onnxruntime (%s) on every op', (backend) => {
  OP_CASES.forEach((c, k) => {
    it(c.name, async () => {
      const b = new GraphBuilder(c.name);
      const xs = c.shapes.map((s, i) => b.input(`x${i}`, s));
      b.output(c.f(b, xs), 'y');
      const model = b.toModel({ paramsAs: 'input' });
      const r = lcg(k + 1);
      const feeds: Record<string, Float32Array> = {};
      c.shapes.forEach((s, i) => {
        feeds[`x${i}`] = Float32Array.from({ length: s.reduce((p, d) => p * d, 1) }, () => (c.positive ? 0.2 + r() : r() * 2 - 1));
      });
      const ref = evaluate(model.graph, feeds).y;
      const got = (await (await ortSession(model, backend))(feeds)).y;
      expect(got?.shape).toEqual(ref?.shape);
      const a = ref?.data ?? new Float64Array();
      const g = got?.data ?? new Float32Array();
      let err = 0;
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs((a[i] as number) - (g[i] as number)) / Math.max(1, Math.abs(a[i] as number)));
      expect(err).toBeLessThan(1e-5);
    });
  });
});
