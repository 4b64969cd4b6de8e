// A small but complete DeDe decoder training problem for parity tests (Node, and the browser in
// e2e): the train-step graph, its initial state and deterministic batches. Reduced sizes keep it
// fast even on software WebGPU.
import { buildTrainStep, initialState, toTrainGraph } from '../core/autograd/trainStep';
import { blockLoss, initBlockParams, lcgUniform, type BlockConfig } from '../core/autograd/testing/tinyBlock';
import { defineDecoderConfig, type DecoderConfig } from '../core/dede/config';
import { initDecoderWeights } from '../core/dede/init';
import { randomKeep } from '../core/dede/mask';
import { DECODER_INPUTS } from '../core/dede/model';
import { mulberry32, normals } from '../core/dede/rng';
import { buildDecoderTrainStep } from '../core/dede/train-step';
import { visibleCount, numPatches } from '../core/dede/config';
import type { Batch, TrainCheckpoint, TrainGraph } from '../core/train/trainer';

export interface TrainFixture {
  /** The decoder config (for decoder fixtures). */
  readonly cfg: DecoderConfig;
  readonly graph: TrainGraph;
  readonly initial: TrainCheckpoint;
  readonly batches: Batch[];
  readonly lr: number;
}

export const FIXTURE_CFG = defineDecoderConfig({
  imageSize: 16, patchSize: 4, embedDim: 24,
  encDim: 32, encDepth: 1, encHeads: 2,
  decDim: 32, decDepth: 1, decHeads: 2,
});

export function trainFixture(steps: number, { batch = 8, maskRatio = 0.75, seed = 11 } = {}): TrainFixture {
  const cfg = FIXTURE_CFG;
  const step = buildDecoderTrainStep(cfg, { batch, maskRatio, weights: initDecoderWeights(cfg, seed), adam: { maxGradNorm: 1 } });
  const rng = mulberry32(seed + 1);
  const T = numPatches(cfg);
  const Tk = visibleCount(cfg, maskRatio);
  const batches: Batch[] = Array.from({ length: steps }, () => ({
    [DECODER_INPUTS.images]: { dims: [batch, 3, cfg.imageSize, cfg.imageSize], data: normals(rng, batch * 3 * cfg.imageSize ** 2) },
    [DECODER_INPUTS.embedding]: { dims: [batch, cfg.embedDim], data: normals(rng, batch * cfg.embedDim) },
    [DECODER_INPUTS.keep]: { dims: [batch, Tk, T], data: randomKeep(batch, T, Tk, rng) },
  }));
  return { cfg, graph: toTrainGraph(step), initial: { step: 0, tensors: initialState(step) }, batches, lr: 3e-3 };
}

/** A one-block transformer regression: few nodes, so hundreds of steps stay quick on software WebGPU. */
export function blockTrainFixture(steps: number, seed = 5): TrainFixture {
  const c: BlockConfig = { batch: 2, seq: 4, dim: 8, heads: 2, mlp: 16, eps: 1e-5 };
  const step = buildTrainStep(blockLoss(c, initBlockParams(c, seed)), { maxGradNorm: 1 });
  const n = c.batch * c.seq * c.dim;
  const batches: Batch[] = Array.from({ length: steps }, (_, i) => ({
    x: { dims: [c.batch, c.seq, c.dim], data: lcgUniform(n, seed + 2 * i + 1) },
    target: { dims: [c.batch, c.seq, c.dim], data: lcgUniform(n, seed + 2 * i + 2) },
  }));
  return { cfg: FIXTURE_CFG, graph: toTrainGraph(step), initial: { step: 0, tensors: initialState(step) }, batches, lr: 1e-2 };
}
