import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../runtime/session';
import { trainFixture } from '../../testing/train-fixture';
import { evaluate } from '../onnx/interpret';
import { parseModel } from '../onnx/parse';
import { Trainer, TrainerError, type TrainCheckpoint } from './trainer';

const runtime = createRuntime(ortNode, 'cpu');

function maxRelDiff(a: Float32Array, b: ArrayLike<number>): number {
  let scale = 1e-6;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / scale;
}

describe('Trainer (onnxruntime-node)', () => {
  it('runs the DeDe train step and matches the float64 interpreter over several steps', async () => {
    const steps = 4;
    const fx = trainFixture(steps);
    const trainer = await Trainer.create(runtime, fx.graph, fx.initial);
    const stats = [];
    for (const batch of fx.batches) stats.push(await trainer.trainStep(batch, fx.lr, true));
    const ours = await trainer.checkpoint();

    // Reference: the same graph evaluated in float64 by our interpreter, state fed back by hand.
    const graph = parseModel(fx.graph.bytes).graph;
    let state: Record<string, Float32Array> = { ...fx.initial.tensors };
    const refLosses: number[] = [];
    fx.batches.forEach((batch, i) => {
      const t = i + 1;
      const feeds: Record<string, Float32Array> = { ...state };
      feeds[fx.graph.lrInput] = Float32Array.of(fx.lr);
      feeds[fx.graph.bias1Input] = Float32Array.of(1 - fx.graph.beta1 ** t);
      feeds[fx.graph.bias2Input] = Float32Array.of(1 - fx.graph.beta2 ** t);
      for (const [name, tensor] of Object.entries(batch)) feeds[name] = tensor.data;
      const out = evaluate(graph, feeds);
      refLosses.push(out[fx.graph.lossOutput]!.data[0]!);
      state = Object.fromEntries(fx.graph.carried.map((c) => [c.input, Float32Array.from(out[c.output]!.data)]));
    });
    expect(stats.map((s) => s!.step)).toEqual([1, 2, 3, 4]);
    stats.forEach((s, i) => expect(Math.abs(s!.loss - refLosses[i]!) / refLosses[i]!).toBeLessThan(1e-4));
    expect(stats.every((s) => Number.isFinite(s!.gradNorm) && s!.gradNorm > 0)).toBe(true);
    for (const name of fx.graph.paramInputs) expect(maxRelDiff(ours.tensors[name]!, state[name]!)).toBeLessThan(1e-4);
    expect(trainer.step).toBe(steps);
    await trainer.dispose();
  });

  it('reads stats only when asked and keeps a constant number of state tensors', async () => {
    const fx = trainFixture(3);
    const trainer = await Trainer.create(runtime, fx.graph, fx.initial);
    const before = trainer.liveStateTensors;
    expect(await trainer.trainStep(fx.batches[0]!, fx.lr, false)).toBeNull();
    expect(await trainer.trainStep(fx.batches[1]!, fx.lr, true)).toMatchObject({ step: 2 });
    expect(trainer.liveStateTensors).toBe(before);
    expect(before).toBe(fx.graph.carried.length);
    await trainer.dispose();
    await expect(trainer.trainStep(fx.batches[2]!, fx.lr, true)).rejects.toThrow(/disposed/);
  });

  it('checkpoints and restores bit-exactly: resumed training equals uninterrupted training', async () => {
    const fx = trainFixture(5);
    const a = await Trainer.create(runtime, fx.graph, fx.initial);
    for (const batch of fx.batches.slice(0, 3)) await a.trainStep(batch, fx.lr, false);
    const mid: TrainCheckpoint = await a.checkpoint();
    for (const batch of fx.batches.slice(3)) await a.trainStep(batch, fx.lr, false);
    const uninterrupted = await a.checkpoint();

    // A JSON-like round trip of the checkpoint, as storage would do.
    const stored = { step: mid.step, tensors: Object.fromEntries(Object.entries(mid.tensors).map(([k, v]) => [k, new Float32Array(Array.from(v))])) };
    const b = await Trainer.create(runtime, fx.graph, stored);
    expect(b.step).toBe(3);
    for (const batch of fx.batches.slice(3)) await b.trainStep(batch, fx.lr, false);
    const resumed = await b.checkpoint();
    expect(resumed.step).toBe(5);
    for (const name of Object.keys(uninterrupted.tensors)) {
      expect(Buffer.from(resumed.tensors[name]!.buffer).equals(Buffer.from(uninterrupted.tensors[name]!.buffer)), name).toBe(true);
    }
    await a.dispose();
    await b.dispose();
  });

  it('refuses a checkpoint that does not fit the graph, naming the tensor', async () => {
    const fx = trainFixture(1);
    const name = fx.graph.paramInputs[0]!;
    const bad = { step: 0, tensors: { ...fx.initial.tensors, [name]: new Float32Array(3) } };
    await expect(Trainer.create(runtime, fx.graph, bad)).rejects.toThrow(new RegExp(`${name.replace(/\./g, '\\.')} has 3 values`));
    const missing = { step: 0, tensors: { ...fx.initial.tensors } };
    delete (missing.tensors as Record<string, Float32Array>)[name];
    await expect(Trainer.create(runtime, fx.graph, missing)).rejects.toBeInstanceOf(TrainerError);
  });
});
