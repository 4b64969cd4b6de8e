// A tiny model that proves an execution provider really computes: y = softmax(x·W + b) checked
// against plain JS. A backend that fails it is not used.
import { DEFAULT_OPSET, attr, type Model } from '../onnx/graph';
import { serializeModel } from '../onnx/serialize';

const X_SHAPE = [2, 4] as const;
const W_SHAPE = [4, 3] as const;

const w = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1) * 0.5);
const b = Float32Array.from([0.1, -0.2, 0.3]);
export const SELF_TEST_INPUT = Float32Array.from({ length: 8 }, (_, i) => Math.cos(i * 0.7));

export function selfTestModel(): Uint8Array {
  const model: Model = {
    opsets: [{ domain: '', version: DEFAULT_OPSET }],
    producerName: 'dede-web self-test',
    graph: {
      name: 'self_test',
      inputs: [{ name: 'x', dtype: 'float32', shape: X_SHAPE }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [2, 3] }],
      initializers: [
        { name: 'w', dtype: 'float32', shape: W_SHAPE, data: w },
        { name: 'b', dtype: 'float32', shape: [3], data: b },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'], attrs: {} },
        { op: 'Add', inputs: ['xw', 'b'], outputs: ['z'], attrs: {} },
        { op: 'Softmax', inputs: ['z'], outputs: ['y'], attrs: { axis: attr.int(-1) } },
      ],
      valueInfo: new Map([
        ['xw', { name: 'xw', dtype: 'float32', shape: [2, 3] }],
        ['z', { name: 'z', dtype: 'float32', shape: [2, 3] }],
      ]),
    },
  };
  return serializeModel(model);
}

/** The expected output, computed in float64. */
export function selfTestExpected(x: Float32Array = SELF_TEST_INPUT): Float64Array {
  const out = new Float64Array(6);
  for (let r = 0; r < 2; r++) {
    const z = [0, 1, 2].map((c) => {
      let s = b[c]!;
      for (let k = 0; k < 4; k++) s += x[r * 4 + k]! * w[k * 3 + c]!;
      return s;
    });
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const total = e.reduce((a, v) => a + v, 0);
    e.forEach((v, c) => (out[r * 3 + c] = v / total));
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
