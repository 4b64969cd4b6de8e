import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder';

describe('GraphBuilder shape inference (opset 17)', () => {
  const b = new GraphBuilder('t');
  const x = b.input('x', [2, 3, 4]);
  const cases: [string, () => readonly number[]][] = [
    ['MatMul batched broadcast', () => b.matmul(b.input('a', [5, 1, 3, 4]), b.input('bb', [2, 4, 6])).shape],
    ['MatMul 1-D x 3-D', () => b.matmul(b.input('v', [3]), x).shape],
    ['MatMul 3-D x 1-D', () => b.matmul(x, b.input('w', [4])).shape],
    ['Gemm transA transB', () => b.gemm(b.input('ga', [4, 2]), b.input('gb', [5, 4]), b.input('gc', [5]), { transA: true, transB: true }).shape],
    ['Add broadcast', () => b.add(b.input('p', [3, 1, 4]), b.input('q', [2, 4])).shape],
    ['Where 3-way', () => b.where(b.greater(x, b.scalar(0)), b.input('wx', [4]), b.scalar(1)).shape],
    ['ReduceSum keepdims', () => b.reduceSum(x, [0, -1]).shape],
    ['ReduceMean no keepdims', () => b.reduceMean(x, [1], false).shape],
    ['ReduceMax all', () => b.reduceMax(x, undefined, false).shape],
    ['Reshape 0/-1', () => b.reshape(x, [0, -1]).shape],
    ['Transpose', () => b.transpose(x, [2, 0, 1]).shape],
    ['Transpose default', () => b.transpose(x).shape],
    ['Concat', () => b.concat([x, b.input('c2', [2, 1, 4])], 1).shape],
    ['Slice clamps and steps', () => b.slice(x, [1, -1], [100, -5], [1, 2], [1, -2]).shape],
    ['Unsqueeze', () => b.unsqueeze(x, [0, -1]).shape],
    ['Squeeze', () => b.squeeze(b.input('s', [1, 3, 1])).shape],
    ['Expand', () => b.expand(b.input('e', [3, 1]), [2, 1, 5]).shape],
    ['LayerNormalization', () => b.layerNorm(x, b.input('ln', [4])).shape],
  ];
  const expected: readonly (readonly number[])[] = [
    [5, 2, 3, 6], [2, 4], [2, 3], [2, 5], [3, 2, 4], [2, 3, 4], [1, 3, 1], [2, 4], [], [2, 12], [4, 2, 3], [4, 3, 2],
    [2, 4, 4], [2, 2, 2], [1, 2, 3, 4, 1], [3], [2, 3, 5], [2, 3, 4],
  ];
  cases.forEach(([name, f], i) => it(name, () => expect(f()).toEqual(expected[i])));

  it('dtypes: comparisons give bool, Cast changes dtype', () => {
    expect(b.equal(x, x).dtype).toBe('bool');
    expect(b.cast(b.less(x, x), 'float32').dtype).toBe('float32');
  });
});

describe('GraphBuilder errors name the op and the shapes', () => {
  const b = new GraphBuilder();
  const x = b.input('x', [2, 3]);
  it.each([
    ['MatMul', () => b.matmul(x, b.input('y', [2, 3])), /MatMul: incompatible shapes \[2,3\] and \[2,3\]/],
    ['Add', () => b.add(x, b.input('z', [4])), /Add: shapes \[2,3\] and \[4\] are not broadcastable/],
    ['Reshape', () => b.reshape(x, [4, 2]), /Reshape: cannot reshape \[2,3\] to \[4,2\]/],
    ['Concat', () => b.concat([x, b.input('c', [3, 3])], 1), /Concat: shapes \[2,3\], \[3,3\] differ outside axis 1/],
    ['Gemm', () => b.gemm(x, b.input('g', [2, 3])), /Gemm: inner dims differ/],
    ['Transpose', () => b.transpose(x, [0, 0]), /Transpose: perm \[0,0\] invalid for \[2,3\]/],
    ['Softmax', () => b.softmax(x, 2), /Softmax: axis 2 out of range for rank 2/],
    ['duplicate name', () => b.input('x', [1]), /duplicate value name x/],
    ['unknown op', () => b.node('Gather', [x]), /unsupported op Gather/],
  ] as const)('%s', (_n, f, re) => expect(f).toThrow(re));
});

describe('GraphBuilder export', () => {
  it('params become inputs or initializers; dead nodes are pruned; constants are shared', () => {
    const b = new GraphBuilder('m');
    const w = b.param('w', [1, 2, 3, 4], [2, 2]);
    const x = b.input('x', [3, 2]);
    const y = b.matmul(x, w);
    b.exp(y); // dead
    const r1 = b.reshape(y, [-1]);
    const r2 = b.reshape(y, [-1]);
    b.output(b.add(r1, r2), 'out');
    const train = b.build({ paramsAs: 'input' });
    expect(train.inputs.map((i) => i.name)).toEqual(['w', 'x']);
    expect(train.initializers.map((i) => i.dtype)).toEqual(['int64']);
    expect(train.nodes.map((n) => n.op)).toEqual(['MatMul', 'Reshape', 'Reshape', 'Add', 'Identity']);
    expect(train.outputs).toEqual([{ name: 'out', dtype: 'float32', shape: [6] }]);
    const inf = b.toModel({ paramsAs: 'initializer', paramData: { w: new Float32Array([5, 6, 7, 8]) } });
    expect(inf.graph.inputs.map((i) => i.name)).toEqual(['x']);
    expect(inf.graph.initializers.find((i) => i.name === 'w')?.data).toEqual(new Float32Array([5, 6, 7, 8]));
    expect(inf.opsets).toEqual([{ domain: '', version: 17 }]);
  });
});
