// Finite-difference gradient checker. Both the analytic gradients (our backward graph) and the
// central differences are evaluated in float64 by the reference interpreter, so tolerances can be
// tight. The function under test is reduced to a scalar with fixed random weights R,
// L = Σ f(x) ⊙ R, so that every output element contributes with a distinct weight.

import { GraphBuilder, type Value } from '../onnx/builder';
import type { Shape } from '../onnx/graph';
import { evaluate } from '../onnx/interpret';
import { gradients, type GradientOptions } from './gradients';

export interface GradCheckInput {
  readonly name: string;
  readonly shape: Shape;
  readonly data: Float64Array;
}

export interface GradCheckResult {
  /** max over inputs and elements of |a − n| / max(|a|, |n|, floor). */
  readonly maxRelError: number;
  readonly perInput: Readonly<Record<string, number>>;
  readonly analytic: Readonly<Record<string, Float64Array>>;
  readonly numeric: Readonly<Record<string, Float64Array>>;
}

export interface GradCheckOptions extends Pick<GradientOptions, 'rules'> {
  /** Central-difference step (default 1e-5; fine in float64). */
  readonly h?: number;
  /** Denominator floor so that near-zero gradients are compared absolutely (default 1e-4). */
  readonly floor?: number;
  /** Seed of the output weights R. */
  readonly seed?: number;
}

/** Deterministic uniform [0,1) generator (32-bit LCG, Numerical Recipes constants). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(1664525, s) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function checkGradients(
  build: (b: GraphBuilder, xs: readonly Value[]) => Value,
  inputs: readonly GradCheckInput[],
  opts: GradCheckOptions = {},
): GradCheckResult {
  const h = opts.h ?? 1e-5;
  const floor = opts.floor ?? 1e-4;
  const b = new GraphBuilder('gradcheck');
  const xs = inputs.map((i) => b.input(i.name, i.shape));
  const y = build(b, xs);
  const rnd = lcg(opts.seed ?? 7);
  const weights = Float32Array.from({ length: y.shape.reduce((p, d) => p * d, 1) }, () => rnd() * 2 - 1);
  const loss = b.reduceSum(b.mul(y, b.constant(weights, y.shape, 'float32')), undefined, false);
  b.output(loss, 'loss');
  const grads = gradients(b, loss, xs, opts.rules ? { rules: opts.rules } : {});
  const gradNames = grads.map((g, i) => b.output(g, `grad.${(inputs[i] as GradCheckInput).name}`).name);

  const full = b.build({ paramsAs: 'input' });
  const lossOnly = b.build({ paramsAs: 'input', outputs: ['loss'] });
  const feeds: Record<string, Float64Array> = {};
  for (const i of inputs) feeds[i.name] = Float64Array.from(i.data);
  const res = evaluate(full, feeds);
  const lossAt = (): number => (evaluate(lossOnly, feeds).loss?.data[0] as number);

  const analytic: Record<string, Float64Array> = {};
  const numeric: Record<string, Float64Array> = {};
  const perInput: Record<string, number> = {};
  let maxRelError = 0;
  inputs.forEach((inp, k) => {
    const a = (res[gradNames[k] as string] as { data: Float64Array }).data;
    const x = feeds[inp.name] as Float64Array;
    const n = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const x0 = x[j] as number;
      x[j] = x0 + h;
      const lp = lossAt();
      x[j] = x0 - h;
      const lm = lossAt();
      x[j] = x0;
      n[j] = (lp - lm) / (2 * h);
    }
    let err = 0;
    for (let j = 0; j < n.length; j++) {
      const aj = a[j] as number;
      const nj = n[j] as number;
      err = Math.max(err, Math.abs(aj - nj) / Math.max(Math.abs(aj), Math.abs(nj), floor));
    }
    analytic[inp.name] = a;
    numeric[inp.name] = n;
    perInput[inp.name] = err;
    maxRelError = Math.max(maxRelError, err);
  });
  return { maxRelError, perInput, analytic, numeric };
}
