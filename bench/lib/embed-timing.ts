// How bench:encoders times an encoder, shared by onnxruntime-node (in the bench's process) and
// onnxruntime-web (in the bench page's worker) so that both follow one protocol: the app's
// EncoderRunner on seeded normal "images", per batch size one warm-up run (first run at a new shape
// plans memory) and then timed runs until both minimums are met, images/s from the median run.
// DOM-free and Node-free.
import { EncoderRunner, type EncoderSpec } from '../../src/core/dede/encoder-runner';
import { mulberry32, normals } from '../../src/core/dede/rng';
import type { Runtime } from '../../src/core/runtime/session';

export const IMAGE_SIZE = 224;
export const INPUT_NAME = 'pixel_values';
export const OUTPUT_NAME = 'embedding';

export interface TimingPlan {
  readonly batches: readonly number[];
  readonly minRuns: number;
  readonly minSeconds: number;
  /** Once this much time has gone into one batch size, stop after the current run (≥ 1 timed run). */
  readonly maxSeconds: number;
  /** Skip a batch size whose one run would take longer than this at the best rate seen so far. */
  readonly maxRunSeconds: number;
}

export interface BatchTiming {
  readonly batch: number;
  /** Null when skipped (`skipped` says why). */
  readonly imagesPerSec: number | null;
  readonly runs: number;
  readonly medianMs: number | null;
  /** Fastest and slowest timed run: how steady the machine was. */
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly skipped?: string;
}

export interface EncoderTiming {
  readonly sessionSeconds: number;
  readonly batches: readonly BatchTiming[];
  /** Embedding of the first seeded image (batch 1), to check backends agree. */
  readonly firstEmbedding: number[];
}

/** `n` normalised-looking images [n, 3, 224, 224]: standard normals from a fixed seed. */
export function seededImages(n: number, seed = 15): Float32Array {
  return normals(mulberry32(seed), n * 3 * IMAGE_SIZE * IMAGE_SIZE);
}

export function encoderSpec(bytes: Uint8Array): EncoderSpec {
  return { bytes, inputName: INPUT_NAME, readout: { output: OUTPUT_NAME, pooling: 'none' }, height: IMAGE_SIZE, width: IMAGE_SIZE, fixedBatch: null };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Times one model over every batch size of the plan, in one session. */
export async function timeEncoder(runtime: Runtime, bytes: Uint8Array, plan: TimingPlan): Promise<EncoderTiming> {
  const maxBatch = Math.max(...plan.batches);
  const t0 = performance.now();
  const runner = await EncoderRunner.create(runtime, encoderSpec(bytes), maxBatch);
  const sessionSeconds = (performance.now() - t0) / 1000;
  try {
    const images = seededImages(maxBatch);
    const px = 3 * IMAGE_SIZE * IMAGE_SIZE;
    const first = await runner.embed(images.subarray(0, px), 1);
    const firstEmbedding = Array.from(first.data);
    const batches: BatchTiming[] = [];
    let bestRate = 0;
    for (const batch of plan.batches) {
      if (bestRate > 0 && batch / bestRate > plan.maxRunSeconds) {
        batches.push({ batch, imagesPerSec: null, runs: 0, medianMs: null, skipped: `one run would take ~${(batch / bestRate).toFixed(0)} s (> ${plan.maxRunSeconds} s)` });
        continue;
      }
      const input = images.subarray(0, batch * px);
      await runner.embed(input, batch); // warm-up
      const times: number[] = [];
      const start = performance.now();
      for (;;) {
        const t = performance.now();
        await runner.embed(input, batch);
        times.push(performance.now() - t);
        const elapsed = (performance.now() - start) / 1000;
        if (elapsed > plan.maxSeconds) break;
        if (times.length >= plan.minRuns && elapsed >= plan.minSeconds) break;
      }
      const medianMs = median(times);
      const imagesPerSec = batch / (medianMs / 1000);
      bestRate = Math.max(bestRate, imagesPerSec);
      batches.push({ batch, imagesPerSec, runs: times.length, medianMs, minMs: Math.min(...times), maxMs: Math.max(...times) });
    }
    return { sessionSeconds, batches, firstEmbedding };
  } finally {
    await runner.dispose();
  }
}
