import * as ortNode from 'onnxruntime-node';
import type { Page } from '@playwright/test';
import type {} from '../src/app/backend/debug-handle';
import { createRuntime } from '../src/core/runtime/session';
import { Trainer, type TrainCheckpoint } from '../src/core/train/trainer';
import { blockTrainFixture, trainFixture, type TrainFixture } from '../src/testing/train-fixture';
import { expect, test } from './fixtures';

// Plain arrays cross page.evaluate; typed arrays are rebuilt on the other side.
type Plain<T> = T extends Float32Array | Uint8Array ? number[] : T extends object ? { [K in keyof T]: Plain<T[K]> } : T;

function plainFixture(fx: TrainFixture) {
  return {
    graph: { ...fx.graph, bytes: Array.from(fx.graph.bytes) },
    initial: { step: fx.initial.step, tensors: Object.fromEntries(Object.entries(fx.initial.tensors).map(([k, v]) => [k, Array.from(v)])) },
    batches: fx.batches.map((b) => Object.fromEntries(Object.entries(b).map(([k, t]) => [k, { dims: [...t.dims], data: Array.from(t.data) }]))),
  };
}

async function trainInBrowser(page: Page, fx: TrainFixture, steps: number, sampleEvery: number, readStatsEvery: number) {
  const plain = plainFixture(fx);
  return page.evaluate(
    async ({ plain, lr, steps, sampleEvery, readStatsEvery }) => {
      const f32 = (a: number[]) => new Float32Array(a);
      const graph = { ...plain.graph, bytes: new Uint8Array(plain.graph.bytes) };
      const initial = { step: plain.initial.step, tensors: Object.fromEntries(Object.entries(plain.initial.tensors).map(([k, v]) => [k, f32(v)])) };
      const batches = plain.batches.map((b) => Object.fromEntries(Object.entries(b).map(([k, t]) => [k, { dims: t.dims, data: f32(t.data) }])));
      const report = await window.dedeDebug!.train(graph, initial, batches, { lr, steps, sampleEvery, readStatsEvery });
      return { ...report, checkpoint: { step: report.checkpoint.step, tensors: Object.fromEntries(Object.entries(report.checkpoint.tensors).map(([k, v]) => [k, Array.from(v)])) } };
    },
    { plain, lr: fx.lr, steps, sampleEvery, readStatsEvery },
  );
}

async function trainInNode(fx: TrainFixture, steps: number): Promise<TrainCheckpoint> {
  const trainer = await Trainer.create(createRuntime(ortNode, 'cpu'), fx.graph, fx.initial);
  for (let i = 0; i < steps; i++) await trainer.trainStep(fx.batches[i % fx.batches.length]!, fx.lr, false);
  const out = await trainer.checkpoint();
  await trainer.dispose();
  return out;
}

function maxParamDiff(fx: TrainFixture, browser: Plain<TrainCheckpoint>, node: TrainCheckpoint): number {
  let worst = 0;
  for (const name of fx.graph.paramInputs) {
    const a = browser.tensors[name]!;
    const b = node.tensors[name]!;
    expect(a).toHaveLength(b.length);
    for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  }
  return worst;
}

const STEPS = 20;

for (const ep of ['wasm', 'webgpu'] as const) {
  test(`20 DeDe train steps in the worker on ${ep} match the Node run within 1e-3`, async ({ page, guard }) => {
    void guard;
    const fx = trainFixture(STEPS);
    const nodeResult = await trainInNode(fx, STEPS);
    await page.goto(`/?ep=${ep}`);
    await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-ep', ep);
    const report = await trainInBrowser(page, fx, STEPS, 10, 5);
    expect(report.checkpoint.step).toBe(STEPS);
    expect(report.stats.map((s) => s.step)).toEqual([5, 10, 15, 20]);
    expect(report.stats.every((s) => Number.isFinite(s.loss))).toBe(true);
    expect(report.stats.at(-1)!.loss).toBeLessThan(report.stats[0]!.loss);
    const diff = maxParamDiff(fx, report.checkpoint, nodeResult);
    console.log(`${ep}: ${STEPS} steps in ${report.ms.toFixed(0)} ms, max |Δparam| vs Node ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-3);
  });
}

test('500 train steps on WebGPU leave no growing count of live GPU buffers', async ({ page, guard }) => {
  void guard;
  test.setTimeout(600_000);
  const fx = blockTrainFixture(4);
  await page.goto('/?ep=webgpu');
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-ep', 'webgpu');
  const report = await trainInBrowser(page, fx, 500, 50, 50);
  console.log(`webgpu: 500 steps in ${report.ms.toFixed(0)} ms; live GPU buffers every 50 steps: ${report.gpuBuffers.join(', ')}`);
  expect(report.checkpoint.step).toBe(500);
  const counts = report.gpuBuffers as number[];
  expect(counts).toHaveLength(10);
  expect(counts.every((c) => typeof c === 'number' && c > 0)).toBe(true);
  // After warm-up the pool is steady: the last sample is no higher than the second.
  expect(counts.at(-1)!).toBeLessThanOrEqual(counts[1]!);
  // And training really happened on the GPU: the parameters track a Node run of the same steps
  // (float32 rounding differences compound over 500 steps, hence a looser bound than at 20 steps).
  expect(report.stats.at(-1)!.loss).toBeLessThan(report.stats[0]!.loss);
  expect(maxParamDiff(fx, report.checkpoint, await trainInNode(fx, 500))).toBeLessThan(1e-2);
});
