import { describe, expect, it } from 'vitest';
import { decodeTrainingState, encodeTrainingState } from './state-file';
import type { TrainingState } from './train-loop';

const state: TrainingState = {
  trainer: { step: 42, tensors: { 'b.w': Float32Array.from([1.5, -2, NaN]), 'a.w': Float32Array.from([Math.fround(0.1)]) } },
  elapsedSeconds: 12.5,
  losses: [{ step: 10, loss: 0.5 }],
};

describe('training state file', () => {
  it('round-trips bit-exactly with its meta', () => {
    const bytes = encodeTrainingState(state, { plan: { batch: 64 }, encoder: 'abc' });
    const { state: back, meta } = decodeTrainingState(bytes.slice());
    expect(meta).toEqual({ plan: { batch: 64 }, encoder: 'abc' });
    expect(back.trainer.step).toBe(42);
    expect(back.losses).toEqual(state.losses);
    for (const [k, v] of Object.entries(state.trainer.tensors)) {
      expect(Buffer.from(back.trainer.tensors[k]!.buffer).equals(Buffer.from(v.buffer))).toBe(true);
    }
  });
  it('refuses foreign, truncated and tampered files', () => {
    const bytes = encodeTrainingState(state, {});
    expect(() => decodeTrainingState(new TextEncoder().encode('hello world, not a checkpoint'))).toThrow(/does not start/);
    expect(() => decodeTrainingState(bytes.slice(0, bytes.length - 4))).toThrow(/truncated/);
    const bad = bytes.slice();
    bad.set(new TextEncoder().encode('{"version":9'), 12);
    expect(() => decodeTrainingState(bad)).toThrow(/not valid JSON|version/);
  });
});
