// Train-step throughput of one serialised train graph on one runtime, shared by bench:train (WASM vs
// native vs PyTorch) and bench:browser (the app's worker vs onnxruntime-web in Node on the same graph).
import { decoderFeeds, decoderInputSpecs, mulberry32, normals, numPatches, randomKeep, type DecoderConfig } from '../../src/core/dede';
import type { Runtime } from '../../src/core/runtime/session';
import { Trainer, type Batch, type TrainCheckpoint, type TrainGraph } from '../../src/core/train/trainer';

export interface TrainRate {
  readonly stepsPerSec: number;
  readonly steps: number;
  readonly seconds: number;
  /** Process CPU time / wall time over the timed steps: how many cores the backend kept busy. */
  readonly cores: number;
  readonly firstLoss: number;
  readonly lastLoss: number;
  readonly sessionSeconds: number;
  readonly warmupSteps: number;
}

export interface RateLimits {
  readonly warmupSteps: number;
  /** Timed steps run until both limits are reached. */
  readonly minSteps: number;
  readonly minSeconds: number;
  readonly lr: number;
}

/** Fixed images and embeddings, a fresh random mask per step (seeded: every backend sees the same). */
export function decoderBatchStream(cfg: DecoderConfig, batch: number, keepCount: number): () => Batch {
  const rng = mulberry32(7);
  const images = normals(rng, batch * cfg.channels * cfg.imageSize ** 2);
  const embedding = normals(rng, batch * cfg.embedDim);
  const dims = new Map(decoderInputSpecs(cfg, batch, keepCount).map((s) => [s.name, s.shape]));
  return () => {
    const keep = keepCount > 0 ? randomKeep(batch, numPatches(cfg), keepCount, rng) : null;
    const feeds = decoderFeeds({ images, embedding, keep });
    return Object.fromEntries(Object.entries(feeds).map(([name, data]) => [name, { dims: dims.get(name) ?? [], data }]));
  };
}

/** Steps/s of `graph` on `runtime` after a warm-up, reading the loss every step (free on CPU backends). */
export async function measureTrainRate(runtime: Runtime, graph: TrainGraph, initial: TrainCheckpoint, nextBatch: () => Batch, limits: RateLimits): Promise<TrainRate> {
  const t0 = performance.now();
  const trainer = await Trainer.create(runtime, graph, initial);
  const sessionSeconds = (performance.now() - t0) / 1000;
  try {
    const step = async () => (await trainer.trainStep(nextBatch(), limits.lr, true))?.loss ?? NaN;
    const firstLoss = await step();
    for (let i = 1; i < limits.warmupSteps; i++) await step();
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    let steps = 0;
    let lastLoss = NaN;
    while (steps < limits.minSteps || performance.now() - start < limits.minSeconds * 1000) {
      lastLoss = await step();
      steps++;
    }
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { stepsPerSec: steps / seconds, steps, seconds, cores: (cpu.user + cpu.system) / 1e6 / seconds, firstLoss, lastLoss, sessionSeconds, warmupSteps: limits.warmupSteps };
  } finally {
    await trainer.dispose();
  }
}
