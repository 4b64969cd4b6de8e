import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../onnx/builder';
import type { Shape } from '../onnx/graph';
import { gelu } from './composites';
import { checkGradients, lcg, type GradCheckInput } from './gradcheck';
import { gradients } from './gradients';
import type { GradRule } from './grad-rule';
import { GRAD_RULES, unbroadcast } from './rules';

interface Case {
  readonly name: string;
  readonly shapes: readonly Shape[];
  readonly f: (b: GraphBuilder, x: readonly Value[]) => Value;
  /** Map raw uniform(-1,1) samples to a valid domain (e.g. positive for Log/Sqrt). */
  readonly domain?: (u: number) => number;
}

const pos = (u: number): number => 0.5 + Math.abs(u);
// Keep values away from kinks (Relu at 0).
const awayFromZero = (u: number): number => (u < 0 ? u - 0.1 : u + 0.1);

function x(xs: readonly Value[], i: number): Value {
  return xs[i] as Value;
}

const CASES: readonly Case[] = [
  { name: 'Add broadcast [3,1,4]+[2,4]', shapes: [[3, 1, 4], [2, 4]], f: (b, v) => b.add(x(v, 0), x(v, 1)) },
  { name: 'Sub broadcast [2,3]-[3]', shapes: [[2, 3], [3]], f: (b, v) => b.sub(x(v, 0), x(v, 1)) },
  { name: 'Sub broadcast [1]-[2,3]', shapes: [[1], [2, 3]], f: (b, v) => b.sub(x(v, 0), x(v, 1)) },
  { name: 'Mul broadcast [3,1,4]*[2,1]', shapes: [[3, 1, 4], [2, 1]], f: (b, v) => b.mul(x(v, 0), x(v, 1)) },
  { name: 'Mul x*x (same operand twice)', shapes: [[2, 3]], f: (b, v) => b.mul(x(v, 0), x(v, 0)) },
  { name: 'Div broadcast [2,3]/[2,1]', shapes: [[2, 3], [2, 1]], f: (b, v) => b.div(x(v, 0), x(v, 1)), domain: pos },
  { name: 'Pow base and exponent', shapes: [[2, 3], [3]], f: (b, v) => b.pow(x(v, 0), x(v, 1)), domain: pos },
  { name: 'Pow constant exponent', shapes: [[4]], f: (b, v) => b.pow(x(v, 0), b.scalar(3)) },
  { name: 'Neg', shapes: [[2, 3]], f: (b, v) => b.neg(x(v, 0)) },
  { name: 'Sqrt', shapes: [[2, 3]], f: (b, v) => b.sqrt(x(v, 0)), domain: pos },
  { name: 'Exp', shapes: [[2, 3]], f: (b, v) => b.exp(x(v, 0)) },
  { name: 'Log', shapes: [[2, 3]], f: (b, v) => b.log(x(v, 0)), domain: pos },
  { name: 'Tanh', shapes: [[2, 3]], f: (b, v) => b.tanh(x(v, 0)) },
  { name: 'Erf', shapes: [[2, 3]], f: (b, v) => b.erf(x(v, 0)) },
  { name: 'Relu', shapes: [[2, 5]], f: (b, v) => b.relu(x(v, 0)), domain: awayFromZero },
  { name: 'Sigmoid', shapes: [[2, 3]], f: (b, v) => b.sigmoid(x(v, 0)) },
  { name: 'Identity', shapes: [[3]], f: (b, v) => b.identity(x(v, 0)) },
  {
    name: 'Where broadcast cond [3,1], x [3,4], y [4]',
    shapes: [[3, 4], [4]],
    f: (b, v) => b.where(b.constant(Uint8Array.from([1, 0, 1]), [3, 1], 'bool'), x(v, 0), x(v, 1)),
  },
  { name: 'Softmax axis -1', shapes: [[2, 5]], f: (b, v) => b.softmax(x(v, 0), -1) },
  { name: 'Softmax axis 1 of 3', shapes: [[2, 3, 4]], f: (b, v) => b.softmax(x(v, 0), 1) },
  { name: 'ReduceSum axes [0,2] keepdims', shapes: [[2, 3, 4]], f: (b, v) => b.reduceSum(x(v, 0), [0, 2], true) },
  { name: 'ReduceSum axes [-1] no keepdims', shapes: [[2, 3, 4]], f: (b, v) => b.reduceSum(x(v, 0), [-1], false) },
  { name: 'ReduceSum all', shapes: [[2, 3]], f: (b, v) => b.reduceSum(x(v, 0), undefined, false) },
  { name: 'ReduceMean axes [1] no keepdims', shapes: [[2, 3, 4]], f: (b, v) => b.reduceMean(x(v, 0), [1], false) },
  { name: 'ReduceMean all keepdims', shapes: [[2, 3]], f: (b, v) => b.reduceMean(x(v, 0)) },
  { name: 'ReduceMax axes [1]', shapes: [[3, 5]], f: (b, v) => b.reduceMax(x(v, 0), [1], false) },
  { name: 'Reshape', shapes: [[2, 6]], f: (b, v) => b.mul(b.reshape(x(v, 0), [3, -1]), b.constFloat([1, 2, 3, 4], [4])) },
  { name: 'Transpose [2,0,1]', shapes: [[2, 3, 4]], f: (b, v) => b.transpose(x(v, 0), [2, 0, 1]) },
  { name: 'Concat axis 1', shapes: [[2, 3], [2, 1], [2, 2]], f: (b, v) => b.concat([x(v, 0), x(v, 1), x(v, 2)], 1) },
  { name: 'Slice step 1, two axes, negative bounds', shapes: [[4, 5]], f: (b, v) => b.slice(x(v, 0), [1, -4], [3, -1], [0, 1]) },
  { name: 'Slice step 2 and negative step', shapes: [[5, 6]], f: (b, v) => b.slice(x(v, 0), [0, 5], [5, 0], [0, 1], [2, -2]) },
  { name: 'Slice to INT64 max', shapes: [[3, 4]], f: (b, v) => b.slice(x(v, 0), [2], [Number.MAX_SAFE_INTEGER * 2048], [1]) },
  {
    name: 'Slice pieces: disjoint, overlapping, gapped and on two axes, summed into one gradient',
    shapes: [[3, 8]],
    f: (b, v) => {
      const xv = x(v, 0);
      const cols = [
        b.exp(b.slice(xv, [0], [2], [1])),
        b.tanh(b.slice(xv, [2], [5], [1])),
        b.mul(b.slice(xv, [6], [8], [1]), b.slice(xv, [6], [8], [1])), // column 5 unused: a gap
        b.slice(xv, [1], [4], [1]), // overlaps the first two
      ];
      const rows = b.mul(b.slice(xv, [1], [3], [0]), b.scalar(2)); // another axis
      return b.concat([b.reshape(b.concat(cols, 1), [-1]), b.reshape(rows, [-1])], 0);
    },
  },
  { name: 'Unsqueeze', shapes: [[2, 3]], f: (b, v) => b.mul(b.unsqueeze(x(v, 0), [0, -1]), b.constFloat([1, -2], [2, 1, 1, 1])) },
  { name: 'Squeeze', shapes: [[2, 1, 3]], f: (b, v) => b.squeeze(x(v, 0), [1]) },
  { name: 'Expand [3,1] -> [2,3,4]', shapes: [[3, 1]], f: (b, v) => b.expand(x(v, 0), [2, 3, 4]) },
  { name: 'Cast float->float', shapes: [[3]], f: (b, v) => b.cast(x(v, 0), 'float32') },
  { name: 'MatMul 2-D', shapes: [[3, 4], [4, 2]], f: (b, v) => b.matmul(x(v, 0), x(v, 1)) },
  { name: 'MatMul batched broadcast [2,1,3,4]x[3,4,5]', shapes: [[2, 1, 3, 4], [3, 4, 5]], f: (b, v) => b.matmul(x(v, 0), x(v, 1)) },
  { name: 'MatMul linear layer [2,3,4]x[4,5]', shapes: [[2, 3, 4], [4, 5]], f: (b, v) => b.matmul(x(v, 0), x(v, 1)) },
  { name: 'MatMul 1-D x 2-D', shapes: [[4], [4, 3]], f: (b, v) => b.matmul(x(v, 0), x(v, 1)) },
  { name: 'MatMul 3-D x 1-D', shapes: [[2, 3, 4], [4]], f: (b, v) => b.matmul(x(v, 0), x(v, 1)) },
  { name: 'MatMul 1-D x 1-D', shapes: [[4], [4]], f: (b, v) => b.matmul(x(v, 0), x(v, 1)) },
  ...([false, true] as const).flatMap((ta) =>
    ([false, true] as const).map(
      (tb): Case => ({
        name: `Gemm transA=${ta} transB=${tb} alpha/beta, C [3]`,
        shapes: [ta ? [4, 2] : [2, 4], tb ? [3, 4] : [4, 3], [3]],
        f: (b, v) => b.gemm(x(v, 0), x(v, 1), x(v, 2), { transA: ta, transB: tb, alpha: 0.7, beta: -1.3 }),
      }),
    ),
  ),
  { name: 'Gemm without C', shapes: [[2, 4], [4, 3]], f: (b, v) => b.gemm(x(v, 0), x(v, 1)) },
  {
    name: 'LayerNormalization axis -1 with scale and bias',
    shapes: [[2, 3, 5], [5], [5]],
    f: (b, v) => b.layerNorm(x(v, 0), x(v, 1), x(v, 2), { epsilon: 1e-5 }),
  },
  { name: 'LayerNormalization axis 1, broadcast scale', shapes: [[2, 3, 4], [1, 4]], f: (b, v) => b.layerNorm(x(v, 0), x(v, 1), undefined, { axis: 1, epsilon: 1e-3 }) },
  {
    name: 'composite: exact GELU',
    shapes: [[3, 4]],
    f: (b, v) => b.mul(b.mul(x(v, 0), b.scalar(0.5)), b.add(b.scalar(1), b.erf(b.mul(x(v, 0), b.scalar(Math.SQRT1_2))))),
  },
  { name: 'Gelu composite region (one rule on saved z and Φ)', shapes: [[3, 4]], f: (b, v) => gelu(b, b.mul(x(v, 0), b.scalar(2.5))) },
  {
    name: 'Gelu region with an interior value used outside (falls back to per-node rules)',
    shapes: [[2, 3]],
    f: (b, v) => {
      const y = gelu(b, x(v, 0));
      const region = b.composites[b.composites.length - 1];
      return b.add(y, b.info(String(region?.saved.cdf?.name)));
    },
  },
  { name: 'composite: value used twice (fan-out accumulation)', shapes: [[3]], f: (b, v) => b.mul(b.exp(x(v, 0)), b.tanh(x(v, 0))) },
];

function randomInputs(shapes: readonly Shape[], seed: number, domain: (u: number) => number = (u) => u): GradCheckInput[] {
  const r = lcg(seed);
  return shapes.map((shape, i) => ({
    name: `x${i}`,
    shape,
    data: Float64Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => domain(r() * 2 - 1)),
  }));
}

describe('gradient rules vs central finite differences (float64 interpreter)', () => {
  CASES.forEach((c, k) => {
    it(c.name, () => {
      const res = checkGradients(c.f, randomInputs(c.shapes, 100 + k, c.domain));
      expect(res.maxRelError).toBeLessThanOrEqual(1e-3);
    });
  });

  it('every op with a rule is exercised by a case', () => {
    const covered = new Set(CASES.map((c) => c.name.split(' ')[0]));
    for (const op of Object.keys(GRAD_RULES)) expect(covered.has(op), op).toBe(true);
  });
});

describe('composite regions', () => {
  const backwardNodes = (rules?: Readonly<Record<string, GradRule>>): number => {
    const b = new GraphBuilder('g');
    const xv = b.input('x', [2, 3]);
    const loss = b.reduceSum(gelu(b, xv), undefined, false);
    const before = b.nodes.length;
    gradients(b, loss, [xv], rules ? { rules } : {});
    return b.nodes.length - before;
  };

  it('the Gelu rule emits fewer backward nodes than the per-node rules', () => {
    const fused = backwardNodes();
    // Seed and ReduceSum take 3 nodes; the Gelu rule 6, the per-node rules 10.
    expect(fused).toBe(3 + 6);
    expect(backwardNodes({ Gelu: undefined as unknown as GradRule })).toBe(3 + 10);
  });

  it('disjoint slices of one value get one Concat as gradient, not zero-padded sums', () => {
    const b = new GraphBuilder('s');
    const xv = b.input('x', [2, 9]);
    const parts = [0, 1, 2].map((i) => b.exp(b.slice(xv, [3 * i], [3 * i + 3], [1])));
    const loss = b.reduceSum(b.concat(parts, 0), undefined, false);
    const before = b.nodes.length;
    gradients(b, loss, [xv]);
    const ops = b.nodes.slice(before).map((n) => n.op);
    expect(ops.filter((o) => o === 'Concat')).toHaveLength(1);
    expect(ops.filter((o) => o === 'Add')).toHaveLength(0);
    expect(ops.filter((o) => o === 'Expand')).toHaveLength(2); // seed and ReduceSum only: no zero padding
  });

  it('regions cannot nest and must end with their output', () => {
    const b = new GraphBuilder('n');
    const xv = b.input('x', [2]);
    expect(() => b.composite('Gelu', [xv], () => ({ output: gelu(b, xv) }))).toThrow(/cannot nest/);
    expect(() => b.composite('Gelu', [xv], () => ({ output: xv }))).toThrow(/last node/);
  });
});

describe('the checker catches wrong rules', () => {
  const subCase = CASES.find((c) => c.name.startsWith('Sub broadcast [2,3]')) as Case;
  const addCase = CASES[0] as Case;

  it('sign flip on the second operand of Sub', () => {
    const wrong: GradRule = ({ b, x: xs, gy }) => [unbroadcast(b, gy, (xs[0] as Value).shape), unbroadcast(b, gy, (xs[1] as Value).shape)];
    const res = checkGradients(subCase.f, randomInputs(subCase.shapes, 1), { rules: { Sub: wrong } });
    expect(res.perInput.x0).toBeLessThan(1e-6);
    expect(res.perInput.x1).toBeGreaterThan(0.5);
  });

  it('broadcast reduced with a mean instead of a sum', () => {
    const wrong: GradRule = ({ b, x: xs, gy }) => {
      const bx = xs[1] as Value;
      // Right shape, wrong values: averages over the broadcast axis.
      return [unbroadcast(b, gy, (xs[0] as Value).shape), b.reshape(b.reduceMean(gy, [0], true), bx.shape)];
    };
    const res = checkGradients(addCase.f, randomInputs(addCase.shapes, 2), { rules: { Add: wrong } });
    expect(res.maxRelError).toBeGreaterThan(0.5);
  });

  it('missing broadcast reduction is rejected by the shape check', () => {
    const wrong: GradRule = ({ gy }) => [gy, gy];
    expect(() => checkGradients(addCase.f, randomInputs(addCase.shapes, 3), { rules: { Add: wrong } })).toThrow(/rule for Add returned float32\[3,2,4\] for input x0 of float32\[3,1,4\]/);
  });
});
