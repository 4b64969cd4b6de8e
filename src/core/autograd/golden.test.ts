// Our train-step graph vs PyTorch (torch.optim.AdamW / Adam + clip_grad_norm_) on the same tiny
// block. Regenerate the golden file with: /usr/bin/python3 scripts/golden/adamw_block.py
import { describe, expect, it } from 'vitest';
import { ortSession } from '../../testing/ort';
import { evaluate } from '../onnx/interpret';
import golden from './__golden__/adamw_block.json';
import { initBlockParams, blockLoss, lcgUniform, type BlockConfig } from './testing/tinyBlock';
import { buildTrainStep, carryState, initialState, scheduleFeeds, trainNames } from './trainStep';

interface GoldenStep {
  readonly loss: number;
  readonly grad_norm: number;
  readonly params: Readonly<Record<string, readonly number[]>>;
}

const cfg: BlockConfig = golden.config;
const o = golden.optim;
const VARIANTS = { adamw: 'adamw', adam_l2: 'adam' } as const;

/** max |a − e| / max(1, |e|) */
function maxErr(a: ArrayLike<number>, e: readonly number[]): number {
  expect(a.length).toBe(e.length);
  let m = 0;
  for (let i = 0; i < e.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (e[i] as number)) / Math.max(1, Math.abs(e[i] as number)));
  return m;
}

/** max |Δa − Δe| / max |Δe| for updates Δ from params `prev`. */
function updateErr(prev: ArrayLike<number>, a: ArrayLike<number>, e: readonly number[]): number {
  let d = 0;
  let scale = 0;
  for (let i = 0; i < e.length; i++) {
    d = Math.max(d, Math.abs((a[i] as number) - (e[i] as number)));
    scale = Math.max(scale, Math.abs((e[i] as number) - (prev[i] as number)));
  }
  return d / scale;
}

type Runner = (feeds: Record<string, Float32Array>) => Promise<Record<string, { readonly data: ArrayLike<number> }>>;

describe.each(Object.entries(VARIANTS))('golden one-block train step vs torch 1.13: %s', (variant, mode) => {
  const step = buildTrainStep(blockLoss(cfg, initBlockParams(cfg, golden.seeds.params)), {
    mode,
    beta1: o.beta1,
    beta2: o.beta2,
    eps: o.eps,
    weightDecay: o.weight_decay,
    maxGradNorm: o.max_grad_norm,
  });
  const n = cfg.batch * cfg.seq * cfg.dim;
  const batch = { x: lcgUniform(n, golden.seeds.x), target: lcgUniform(n, golden.seeds.target) };
  const expected = golden.variants[variant as keyof typeof VARIANTS] as readonly GoldenStep[];

  const runners: Record<string, () => Promise<Runner>> = {
    interpreter: async () => async (feeds) => evaluate(step.model.graph, feeds),
    'onnxruntime-node': () => ortSession(step.model, 'node'),
    'onnxruntime-web (wasm)': () => ortSession(step.model, 'web-wasm'),
  };

  it.each(Object.keys(runners))('%s matches to 1e-4', async (which) => {
    const run = await (runners[which] as () => Promise<Runner>)();
    let state: Record<string, Float32Array> = initialState(step);
    for (let t = 1; t <= expected.length; t++) {
      const out = await run({ ...state, ...scheduleFeeds(t, o.lr, step.config), ...batch });
      const e = expected[t - 1] as GoldenStep;
      expect(maxErr(out[trainNames.loss]?.data ?? [], [e.loss])).toBeLessThan(1e-4);
      expect(maxErr(out[trainNames.gradNorm]?.data ?? [], [e.grad_norm])).toBeLessThan(1e-4);
      for (const [name, vals] of Object.entries(e.params)) {
        const got = out[trainNames.next(name)]?.data ?? [];
        expect(maxErr(got, vals), `${name} after step ${t}`).toBeLessThan(1e-4);
        // Adam moves params by ~lr, so 1e-4 alone would not see weight decay (lr·wd·p ≈ 1e-5) or
        // clipping; also compare the update itself, relative to its largest element.
        expect(updateErr(state[name] ?? [], got, vals), `${name} update at step ${t}`).toBeLessThan(1e-3);
      }
      state = Object.fromEntries(Object.entries(carryState(step, out)).map(([k, v]) => [k, Float32Array.from(v.data)]));
    }
  });
});
