// Proves that serializeModel's bytes are valid for onnxruntime: hand-built IR models are run by
// onnxruntime-node and compared with the same maths done in plain JS. The same models also go
// through `onnx.checker.check_model(full_check=True)` when Python's onnx package is available.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, type GraphNode, type Initializer, type Model, type ValueInfo } from './graph';
import { serializeModel } from './serialize';

const f32 = (name: string, shape: number[], values: ArrayLike<number>): Initializer => ({
  name,
  dtype: 'float32',
  shape,
  data: Float32Array.from(values),
});
const vi = (name: string, shape: number[]): ValueInfo => ({ name, dtype: 'float32', shape });

/** Deterministic pseudo-random values in [-1, 1) (mulberry32). */
function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  });
}

interface Case {
  readonly model: Model;
  readonly feeds: Readonly<Record<string, { readonly shape: number[]; readonly data: Float32Array }>>;
  /** Expected value of every graph output, computed in plain JS. */
  readonly expected: Readonly<Record<string, ArrayLike<number>>>;
}

function model(name: string, parts: { inputs: ValueInfo[]; outputs: ValueInfo[]; nodes: GraphNode[]; inits?: Initializer[]; mid?: ValueInfo[] }): Model {
  return {
    graph: {
      name,
      inputs: parts.inputs,
      outputs: parts.outputs,
      initializers: parts.inits ?? [],
      nodes: parts.nodes,
      valueInfo: new Map([...(parts.mid ?? []), ...parts.outputs].map((v) => [v.name, v])),
    },
    opsets: [],
    producerName: 'dede-web-tests',
  };
}

// ---------------------------------------------------------------------------------------------
// Plain-JS references

function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): number[] {
  const out = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return out;
}

function softmaxAxis0(x: ArrayLike<number>, rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let c = 0; c < cols; c++) {
    let max = -Infinity;
    for (let r = 0; r < rows; r++) max = Math.max(max, x[r * cols + c]!);
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += Math.exp(x[r * cols + c]! - max);
    for (let r = 0; r < rows; r++) out[r * cols + c] = Math.exp(x[r * cols + c]! - max) / sum;
  }
  return out;
}

function layerNorm(x: ArrayLike<number>, rows: number, cols: number, g: ArrayLike<number>, b: ArrayLike<number>, eps: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[r * cols + c]! / cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[r * cols + c]! - mean) ** 2 / cols;
    for (let c = 0; c < cols; c++) out[r * cols + c] = ((x[r * cols + c]! - mean) / Math.sqrt(v + eps)) * g[c]! + b[c]!;
  }
  return out;
}

/** out[i2][i0][i1] = x[i0][i1][i2], i.e. Transpose with perm [2, 0, 1]. */
function transpose201(x: ArrayLike<number>, d0: number, d1: number, d2: number): number[] {
  const out = new Array<number>(d0 * d1 * d2);
  for (let i = 0; i < d0; i++) for (let j = 0; j < d1; j++) for (let k = 0; k < d2; k++) out[(k * d0 + i) * d1 + j] = x[(i * d1 + j) * d2 + k]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cases

function matmulAdd(): Case {
  const x = randoms(2 * 3, 1);
  const w = randoms(3 * 4, 2);
  const b = randoms(4, 3);
  const y = matmul(x, w, 2, 3, 4).map((v, i) => v + b[i % 4]!);
  return {
    model: model('matmul_add', {
      inputs: [vi('x', [2, 3])],
      outputs: [vi('y', [2, 4])],
      inits: [f32('w', [3, 4], w), f32('b', [4], b)],
      mid: [vi('xw', [2, 4])],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'], attrs: {} },
        { op: 'Add', inputs: ['xw', 'b'], outputs: ['y'], attrs: {} },
      ],
    }),
    feeds: { x: { shape: [2, 3], data: x } },
    expected: { y },
  };
}

function softmax(): Case {
  const x = randoms(3 * 4, 4).map((v) => v * 5);
  return {
    model: model('softmax', {
      inputs: [vi('x', [3, 4])],
      outputs: [vi('y', [3, 4])],
      // axis 0 is not the default (-1): a dropped attribute would give a different answer.
      nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: attr.int(0) } }],
    }),
    feeds: { x: { shape: [3, 4], data: x } },
    expected: { y: softmaxAxis0(x, 3, 4) },
  };
}

function layerNormalization(): Case {
  // Tiny inputs (variance ~1e-5) so that epsilon = 1e-3 changes the result a lot.
  const x = randoms(2 * 5, 5).map((v) => v * 0.01);
  const g = randoms(5, 6);
  const b = randoms(5, 7);
  const eps = Math.fround(1e-3);
  return {
    model: model('layernorm', {
      inputs: [vi('x', [2, 5])],
      outputs: [vi('y', [2, 5])],
      inits: [f32('gamma', [5], g), f32('beta', [5], b)],
      nodes: [
        {
          op: 'LayerNormalization',
          inputs: ['x', 'gamma', 'beta'],
          outputs: ['y'],
          attrs: { axis: attr.int(-1), epsilon: attr.float(eps) },
        },
      ],
    }),
    feeds: { x: { shape: [2, 5], data: x } },
    expected: { y: layerNorm(x, 2, 5, g, b, eps) },
  };
}

function reshapeTranspose(): Case {
  const x = randoms(2 * 6, 8);
  return {
    model: model('reshape_transpose', {
      inputs: [vi('x', [2, 6])],
      outputs: [vi('y', [2, 3, 2])],
      inits: [{ name: 'shape', dtype: 'int64', shape: [3], data: BigInt64Array.from([3n, 2n, 2n]) }],
      mid: [vi('r', [3, 2, 2])],
      nodes: [
        { op: 'Reshape', inputs: ['x', 'shape'], outputs: ['r'], attrs: {} },
        { op: 'Transpose', inputs: ['r'], outputs: ['y'], attrs: { perm: attr.ints([2, 0, 1]) } },
      ],
    }),
    feeds: { x: { shape: [2, 6], data: x } },
    expected: { y: transpose201(x, 3, 2, 2) },
  };
}

function gemmWithConstant(): Case {
  const a = randoms(2 * 3, 9);
  const bt = randoms(4 * 3, 10); // B stored transposed: [4, 3]
  const c = Float32Array.from([0.5, -1, 2, 0]);
  const alpha = 0.5;
  const beta = 2;
  const b = Array.from({ length: 12 }, (_, i) => bt[(i % 4) * 3 + Math.floor(i / 4)]!);
  const y = matmul(a, b, 2, 3, 4).map((v, i) => alpha * v + beta * c[i % 4]!);
  return {
    model: model('gemm_constant', {
      inputs: [vi('a', [2, 3])],
      outputs: [vi('y', [2, 4])],
      inits: [f32('bt', [4, 3], bt)],
      mid: [vi('c', [4])],
      nodes: [
        { op: 'Constant', inputs: [], outputs: ['c'], attrs: { value: attr.tensor(f32('c_value', [4], c)) } },
        {
          op: 'Gemm',
          name: 'gemm',
          inputs: ['a', 'bt', 'c'],
          outputs: ['y'],
          attrs: { alpha: attr.float(alpha), beta: attr.float(beta), transB: attr.int(1) },
        },
      ],
    }),
    feeds: { a: { shape: [2, 3], data: a } },
    expected: { y },
  };
}

const CASES: Readonly<Record<string, () => Case>> = {
  'MatMul + Add with initializers and value_info': matmulAdd,
  'Softmax with a non-default axis attribute': softmax,
  'LayerNormalization with an epsilon attribute': layerNormalization,
  'Reshape with an int64 shape initializer, then Transpose perm': reshapeTranspose,
  'Constant (tensor attribute) + Gemm with alpha/beta/transB': gemmWithConstant,
};

describe('serialized models run in onnxruntime-node', () => {
  for (const [title, make] of Object.entries(CASES)) {
    it(title, async () => {
      const c = make();
      const session = await ort.InferenceSession.create(serializeModel(c.model));
      try {
        const feeds = Object.fromEntries(Object.entries(c.feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.shape)]));
        const results = await session.run(feeds);
        for (const out of c.model.graph.outputs) {
          const got = results[out.name]!;
          expect(got.dims).toEqual(out.shape);
          const want = c.expected[out.name]!;
          expect(got.data.length).toBe(want.length);
          (got.data as Float32Array).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-5));
        }
      } finally {
        await session.release();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// onnx.checker

const PYTHON = '/usr/bin/python3';
const hasPythonOnnx = spawnSync(PYTHON, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;

describe('onnx.checker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts every serialized model with full_check=True', (ctx) => {
    if (!hasPythonOnnx) ctx.skip(`${PYTHON} cannot import onnx (install python3-onnx to run this check)`);
    const files = Object.entries(CASES).map(([, make], i) => {
      const file = join(dir, `m${i}.onnx`);
      writeFileSync(file, serializeModel(make().model));
      return file;
    });
    const script = [
      'import sys, onnx',
      'for f in sys.argv[1:]:',
      '    onnx.checker.check_model(onnx.load(f), full_check=True)',
      'print("checked", len(sys.argv) - 1)',
    ].join('\n');
    const run = spawnSync(PYTHON, ['-c', script, ...files], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(`checked ${files.length}`);
  });
});
