// A small model the e2e tests build in Node with our own serialiser, plus its float64 JS reference:
// y = LayerNorm(erf(tanh(x·W + b)) · 0.5 + x·W) → Softmax. Enough ops to catch a backend that is
// wrong, not just one that runs.
import { DEFAULT_OPSET, attr, type Model } from '../src/core/onnx/graph';
import { serializeModel } from '../src/core/onnx/serialize';

export const N = 3;
export const K = 8;
export const M = 5;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

export function referenceModelCase(seed = 7): { bytes: Uint8Array; x: Float32Array; expected: Float64Array } {
  const rand = lcg(seed);
  const w = Float32Array.from({ length: K * M }, () => rand());
  const b = Float32Array.from({ length: M }, () => rand());
  const gamma = Float32Array.from({ length: M }, () => 1 + rand());
  const beta = Float32Array.from({ length: M }, () => rand());
  const half = Float32Array.from([0.5]);
  const x = Float32Array.from({ length: N * K }, () => 2 * rand());
  const v = (name: string) => ({ name, dtype: 'float32' as const, shape: [N, M] });
  const model: Model = {
    opsets: [{ domain: '', version: DEFAULT_OPSET }],
    graph: {
      name: 'e2e_reference',
      inputs: [{ name: 'x', dtype: 'float32', shape: [N, K] }],
      outputs: [v('y')],
      initializers: [
        { name: 'w', dtype: 'float32', shape: [K, M], data: w },
        { name: 'b', dtype: 'float32', shape: [M], data: b },
        { name: 'gamma', dtype: 'float32', shape: [M], data: gamma },
        { name: 'beta', dtype: 'float32', shape: [M], data: beta },
        { name: 'half', dtype: 'float32', shape: [1], data: half },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'], attrs: {} },
        { op: 'Add', inputs: ['xw', 'b'], outputs: ['z'], attrs: {} },
        { op: 'Tanh', inputs: ['z'], outputs: ['t'], attrs: {} },
        { op: 'Erf', inputs: ['t'], outputs: ['e'], attrs: {} },
        { op: 'Mul', inputs: ['e', 'half'], outputs: ['eh'], attrs: {} },
        { op: 'Add', inputs: ['eh', 'xw'], outputs: ['s'], attrs: {} },
        { op: 'LayerNormalization', inputs: ['s', 'gamma', 'beta'], outputs: ['ln'], attrs: { axis: attr.int(-1), epsilon: attr.float(1e-5) } },
        { op: 'Softmax', inputs: ['ln'], outputs: ['y'], attrs: { axis: attr.int(-1) } },
      ],
      valueInfo: new Map(['xw', 'z', 't', 'e', 'eh', 's', 'ln'].map((n) => [n, v(n)])),
    },
  };

  const expected = new Float64Array(N * M);
  for (let r = 0; r < N; r++) {
    const s: number[] = [];
    for (let c = 0; c < M; c++) {
      let xw = 0;
      for (let k = 0; k < K; k++) xw += x[r * K + k]! * w[k * M + c]!;
      s.push(erf(Math.tanh(xw + b[c]!)) * 0.5 + xw);
    }
    const mean = s.reduce((a, q) => a + q, 0) / M;
    const variance = s.reduce((a, q) => a + (q - mean) ** 2, 0) / M;
    const ln = s.map((q, c) => ((q - mean) / Math.sqrt(variance + 1e-5)) * gamma[c]! + beta[c]!);
    const mx = Math.max(...ln);
    const ex = ln.map((q) => Math.exp(q - mx));
    const total = ex.reduce((a, q) => a + q, 0);
    ex.forEach((q, c) => (expected[r * M + c] = q / total));
  }
  return { bytes: serializeModel(model), x, expected };
}

/** erf to ~1e-7 (Abramowitz–Stegun 7.1.26 is too coarse for a 1e-4 check after Softmax, so use a series/continued fraction). */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a < 2.5) {
    // Maclaurin series: converges fast for |x| < 2.5.
    let sum = 0;
    let term = a;
    for (let n = 0; n < 60; n++) {
      sum += term / (2 * n + 1);
      term *= (-a * a) / (n + 1);
    }
    return (sign * 2 * sum) / Math.sqrt(Math.PI);
  }
  // Continued fraction for erfc at larger |x|.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (a + f);
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  return sign * (1 - erfc);
}
