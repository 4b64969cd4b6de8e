import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../runtime/session';
import { FIXTURE_CFG } from '../../testing/train-fixture';
import { initDecoderWeights } from './init';
import { mulberry32, normals } from './rng';
import { keepOneHot } from './mask';
import { batchIndices, trainDecoder, trainingBlindRows, trainingKeep, trainingKeepIndices, validatePlan, type TrainingData, type TrainingPlan, type TrainingState } from './train-loop';

const runtime = createRuntime(ortNode, 'cpu');
const cfg = FIXTURE_CFG;
const N = 24;

/** Learnable toy data: smooth images whose embedding is a fixed random projection of the pixels. */
function toyData(): TrainingData {
  const S = cfg.imageSize;
  const px = 3 * S * S;
  const rng = mulberry32(3);
  const images = new Float32Array(N * px);
  for (let n = 0; n < N; n++) {
    const [a, b, c] = [rng() * 2 - 1, rng() * 2 - 1, rng() * 6];
    for (let ch = 0; ch < 3; ch++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      images[n * px + ch * S * S + y * S + x] = a * Math.sin((x + c) / 3 + ch) + b * Math.cos((y - c) / 4);
    }
  }
  const proj = normals(mulberry32(4), px * cfg.embedDim, 1 / Math.sqrt(px));
  const embeddings = new Float32Array(N * cfg.embedDim);
  for (let n = 0; n < N; n++) for (let d = 0; d < cfg.embedDim; d++) {
    let s = 0;
    for (let i = 0; i < px; i++) s += images[n * px + i]! * proj[i * cfg.embedDim + d]!;
    embeddings[n * cfg.embedDim + d] = s;
  }
  return {
    count: N,
    async batch(indices) {
      const im = new Float32Array(indices.length * px);
      const em = new Float32Array(indices.length * cfg.embedDim);
      indices.forEach((idx, k) => {
        im.set(images.subarray(idx * px, (idx + 1) * px), k * px);
        em.set(embeddings.subarray(idx * cfg.embedDim, (idx + 1) * cfg.embedDim), k * cfg.embedDim);
      });
      return { images: im, embeddings: em };
    },
  };
}

const plan = (over: Partial<TrainingPlan> = {}): TrainingPlan => ({
  cfg, batchSize: 8, maskRatio: 0.75, blindShare: 0, lr: 3e-3, epochs: 10, minutes: null, seed: 1, readLossEvery: 1, checkpointEvery: 0, ...over,
});

describe('batchIndices', () => {
  it('visits every image once per epoch, in a new order each epoch, dropping the partial batch', () => {
    const epoch0 = [0, 1, 2].flatMap((s) => batchIndices(25, 8, 9, s));
    const epoch1 = [3, 4, 5].flatMap((s) => batchIndices(25, 8, 9, s));
    expect(new Set(epoch0).size).toBe(24);
    expect(new Set(epoch1).size).toBe(24);
    expect(epoch0).not.toEqual(epoch1);
    expect(batchIndices(25, 8, 9, 4)).toEqual(batchIndices(25, 8, 9, 4));
  });
});

describe('trainingKeepIndices', () => {
  it('is a fixed function of (seed, step): ascending distinct patches per image, new masks each step', () => {
    const a = trainingKeepIndices(3, 17, 4, 64, 6);
    expect(a).toEqual(trainingKeepIndices(3, 17, 4, 64, 6));
    expect(a).toHaveLength(24);
    for (let b = 0; b < 4; b++) {
      const row = Array.from(a.subarray(b * 6, (b + 1) * 6));
      expect(new Set(row).size).toBe(6);
      expect(row).toEqual([...row].sort((x, y) => x - y));
      for (const t of row) expect(t >= 0 && t < 64).toBe(true);
    }
    expect(trainingKeepIndices(3, 18, 4, 64, 6)).not.toEqual(a);
    expect(trainingKeepIndices(4, 17, 4, 64, 6)).not.toEqual(a);
  });
});

describe('trainingBlindRows and trainingKeep', () => {
  it('blinds exactly round(share·batch) images per step, a fixed function of (seed, step)', () => {
    const count = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
    expect(count(trainingBlindRows(3, 17, 64, 0))).toBe(0);
    expect(count(trainingBlindRows(3, 17, 64, 1))).toBe(64);
    const a = trainingBlindRows(3, 17, 64, 0.25);
    expect(count(a)).toBe(16);
    expect(a).toEqual(trainingBlindRows(3, 17, 64, 0.25));
    expect(a).not.toEqual(trainingBlindRows(3, 18, 64, 0.25));
    expect(count(trainingBlindRows(3, 17, 10, 0.25))).toBe(3); // round(2.5)
    // Over many steps every image position is blinded about equally often.
    const hits = new Array<number>(8).fill(0);
    for (let s = 0; s < 4000; s++) trainingBlindRows(1, s, 8, 0.25).forEach((v, i) => (hits[i]! += v));
    for (const h of hits) expect(Math.abs(h - 1000)).toBeLessThan(120);
  });

  it('zeroes the keep rows of the blind images and leaves the others the unblinded masks', () => {
    const [B, T, Tk] = [8, 64, 6];
    const keep = trainingKeep({ seed: 2, blindShare: 0.5 }, 9, B, T, Tk);
    const plain = keepOneHot(trainingKeepIndices(2, 9, B, T, Tk), B, T, Tk);
    const blind = trainingBlindRows(2, 9, B, 0.5);
    for (let b = 0; b < B; b++) {
      const row = keep.subarray(b * Tk * T, (b + 1) * Tk * T);
      if (blind[b]) expect(row.every((v) => v === 0)).toBe(true);
      else expect(row).toEqual(plain.subarray(b * Tk * T, (b + 1) * Tk * T));
    }
    expect(trainingKeep({ seed: 2, blindShare: 0 }, 9, B, T, Tk)).toEqual(plain);
  });
});

describe('trainDecoder', () => {
  it('lowers the loss on learnable data and reports progress with an ETA', async () => {
    const progress: number[] = [];
    const result = await trainDecoder(runtime, toyData(), plan({ epochs: 20 }), initDecoderWeights(cfg, 2), {
      onProgress: (p) => {
        progress.push(p.step);
        expect(p.totalSteps).toBe(60);
        expect(p.etaSeconds).not.toBeNull();
      },
    });
    expect(result.steps).toBe(60);
    expect(result.stoppedBy).toBe('epochs');
    expect(progress).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const first = result.losses.slice(0, 5).reduce((a, l) => a + l.loss, 0) / 5;
    const last = result.losses.slice(-5).reduce((a, l) => a + l.loss, 0) / 5;
    expect(last).toBeLessThan(0.7 * first);
    expect(Object.keys(result.weights).length).toBeGreaterThan(10);
  });

  it('throttles progress to progressSeconds, each report carrying every loss read since the last one', async () => {
    // A fake clock that advances 0.3 s per read: reports come every ≥ 1 s of it, and at the last step.
    let t = 0;
    const now = () => (t += 300);
    const reports: { step: number; newLosses: number[] }[] = [];
    const result = await trainDecoder(runtime, toyData(), plan({ epochs: 4, progressSeconds: 1 }), initDecoderWeights(cfg, 2), {
      now,
      onProgress: (p) => reports.push({ step: p.step, newLosses: p.newLosses.map((l) => l.step) }),
    });
    expect(result.steps).toBe(12);
    expect(reports.length).toBeLessThan(12);
    expect(reports.at(-1)!.step).toBe(12);
    // Concatenated, the reports' points are exactly the run's loss curve, each once, in order.
    expect(reports.flatMap((r) => r.newLosses)).toEqual(result.losses.map((l) => l.step));
    expect(result.losses.map((l) => l.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('writes checkpoints off the step path but never two at once, and a failed write stops the run with its error', async () => {
    const order: string[] = [];
    let writing = 0;
    let release: () => void = () => undefined;
    await trainDecoder(runtime, toyData(), plan({ epochs: 4, checkpointEvery: 4 }), initDecoderWeights(cfg, 2), {
      onProgress: (p) => {
        order.push(`step ${p.step}`);
        if (p.step === 6) release();
      },
      onCheckpoint: async (s) => {
        expect(writing).toBe(0);
        writing++;
        order.push(`save ${s.trainer.step}`);
        // The step-4 save is held until step 6 has run: training goes on while it is written.
        if (s.trainer.step === 4) await new Promise<void>((r) => (release = r));
        writing--;
      },
    });
    expect(order.indexOf('step 6')).toBeGreaterThan(order.indexOf('save 4'));
    expect(order.filter((o) => o.startsWith('save'))).toEqual(['save 4', 'save 8', 'save 12', 'save 12']);

    const failing = trainDecoder(runtime, toyData(), plan({ epochs: 4, checkpointEvery: 4 }), initDecoderWeights(cfg, 2), {
      onCheckpoint: (s) => (s.trainer.step === 4 ? Promise.reject(new Error('disk full at step 4')) : undefined),
    });
    await expect(failing).rejects.toThrow('disk full at step 4');
  });

  it('resumes from a checkpoint exactly where an uninterrupted run would be', async () => {
    const weights = initDecoderWeights(cfg, 5);
    // With blind rows too: their choice is part of what a resumed run must replay.
    const full = await trainDecoder(runtime, toyData(), plan({ epochs: 3, blindShare: 0.25 }), weights);
    const controller = new AbortController();
    let saved: TrainingState | null = null;
    const part = await trainDecoder(runtime, toyData(), plan({ epochs: 3, blindShare: 0.25, checkpointEvery: 4 }), weights, {
      signal: controller.signal,
      onProgress: (p) => p.step === 5 && controller.abort(),
      onCheckpoint: (s) => {
        saved = s;
      },
    });
    expect(part.stoppedBy).toBe('cancel');
    expect(part.steps).toBe(5);
    expect(saved!.trainer.step).toBe(5);
    const resumed = await trainDecoder(runtime, toyData(), plan({ epochs: 3, blindShare: 0.25 }), weights, { resumeFrom: saved! });
    expect(resumed.steps).toBe(9);
    for (const [name, w] of Object.entries(full.weights)) {
      expect(Buffer.from(resumed.weights[name]!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
    }
    expect(resumed.losses.map((l) => l.step)).toEqual(full.losses.map((l) => l.step));
  });

  it('scores the held-back images at every epoch end and stops once they stopped moving', async () => {
    // A scripted held-back score per epoch: it falls, then flattens from epoch 5 (24 images, batch 8: 3 steps an epoch).
    const script = [10, 6, 4, 3.2, 3.0, 2.99, 2.985, 2.98, 2.979, 2.978, 2.977, 2.976];
    const seen: { epoch: number; params: number }[] = [];
    const heldBack = async (weights: Record<string, Float32Array>, epoch: number) => {
      seen.push({ epoch, params: Object.keys(weights).length });
      return [script[epoch - 1]!, script[epoch - 1]! * 2];
    };
    const rule = { window: 2, tolerance: 0.01, minEpochs: 3 };
    const progress: number[] = [];
    const result = await trainDecoder(runtime, toyData(), plan({ epochs: 12, convergence: rule, progressSeconds: 3600 }), initDecoderWeights(cfg, 2), {
      heldBack,
      onProgress: (p) => progress.push(...(p.newHeldBack ?? []).map((h) => h.epoch)),
    });
    // Epoch 8: epochs 7–8 (mean 2.9825) against 5–6 (2.995): 0.42% < 1% (epoch 7: 3.8%).
    expect(result).toMatchObject({ stoppedBy: 'converged', convergedAt: 8, steps: 24 });
    expect(result.heldBack.map((h) => [h.epoch, h.loss, h.quantile])).toEqual(script.slice(0, 8).map((v, i) => [i + 1, 1.5 * v, 2 * v]));
    expect(seen.map((x) => x.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(seen.every((x) => x.params === Object.keys(result.weights).length)).toBe(true);
    // Reports are throttled, but the stop is reported with every point.
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(result.state.heldBack).toEqual(result.heldBack);

    // Off: the same scores are recorded, the epoch budget decides.
    const between: number[] = [];
    const off = await trainDecoder(runtime, toyData(), plan({ epochs: 8 }), initDecoderWeights(cfg, 2), { heldBack, betweenEpochs: async (epoch) => void between.push(epoch) });
    expect(off).toMatchObject({ stoppedBy: 'epochs', convergedAt: null, steps: 24 });
    expect(off.heldBack).toHaveLength(8);
    // Work between epochs runs at every epoch end but the last (nothing follows it).
    expect(between).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('continues the convergence window across a resume', async () => {
    const script = [10, 6, 4, 3.2, 3.0, 2.99, 2.985, 2.98];
    const heldBack = async (_w: Record<string, Float32Array>, epoch: number) => [script[epoch - 1]!];
    const rule = { window: 2, tolerance: 0.01, minEpochs: 3 };
    const controller = new AbortController();
    let saved: TrainingState | null = null;
    await trainDecoder(runtime, toyData(), plan({ epochs: 12, convergence: rule, checkpointEvery: 3 }), initDecoderWeights(cfg, 2), {
      heldBack,
      signal: controller.signal,
      onProgress: (p) => p.step === 15 && controller.abort(),
      onCheckpoint: (st) => {
        saved = st;
      },
    });
    expect(saved!.heldBack!.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5]);
    const resumed = await trainDecoder(runtime, toyData(), plan({ epochs: 12, convergence: rule }), initDecoderWeights(cfg, 2), { heldBack, resumeFrom: saved! });
    expect(resumed).toMatchObject({ stoppedBy: 'converged', convergedAt: 8 });
    expect(resumed.heldBack.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('stops on the time budget', async () => {
    let t = 0;
    const result = await trainDecoder(runtime, toyData(), plan({ epochs: null, minutes: 0.5 }), initDecoderWeights(cfg, 2), {
      now: () => (t += 4000), // each call advances 4 s
    });
    expect(result.stoppedBy).toBe('time');
    expect(result.steps).toBeGreaterThan(0);
    expect(result.steps).toBeLessThan(10);
  });

  it('explains an impossible plan', () => {
    expect(() => validatePlan(plan({ batchSize: 64 }), 24)).toThrow(/only 24 training images for a batch of 64/);
    expect(() => validatePlan(plan({ epochs: null, minutes: null }), 24)).toThrow(/epoch budget, a time budget/);
    expect(() => validatePlan(plan({ maskRatio: 1 }), 24)).toThrow(/mask ratio/);
    expect(() => validatePlan(plan({ blindShare: 1.5 }), 24)).toThrow(/blind share must be between 0 and 1, got 1.5/);
  });
});
