// Parity with the PyTorch reference (scripts/reference/dede_torch.py --train): same data, batch
// order and masks; compares losses and AUROCs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { auroc, batchIndices, type DecoderConfig, DEFAULT_TRAINING, numPatches, trainingBlindRows, trainingKeepIndices, type TrainingResult, visibleCount } from '../../src/core/dede';
import { concatF32, labels, log, writeF32 } from './common';
import { PIXELS } from './data';
import type { Embedded, EncoderResult, Normalised } from './metrics';
import { BATCH, PYTHON, type Recipe, SEED, TARGETS, THREADS, TORCH_SCRIPT } from './settings';

/** Everything dede_torch.py --train needs to replay this training: data, batch order, masks. */
export function exportParity(dir: string, cfg: DecoderConfig, recipe: Recipe, norm: Normalised, emb: Embedded, tr: TrainingResult, count: number): void {
  mkdirSync(dir, { recursive: true });
  const T = numPatches(cfg);
  const Tk = visibleCount(cfg, recipe.maskRatio);
  const order = new Int32Array(tr.steps * BATCH);
  const keep = new Int32Array(tr.steps * BATCH * Tk);
  const blind = new Uint8Array(tr.steps * BATCH);
  for (let s = 0; s < tr.steps; s++) {
    order.set(batchIndices(count, BATCH, SEED, s), s * BATCH);
    keep.set(trainingKeepIndices(SEED, s, BATCH, T, Tk), s * BATCH * Tk);
    blind.set(trainingBlindRows(SEED, s, BATCH, recipe.blindShare), s * BATCH);
  }
  writeF32(join(dir, 'train_images.f32'), norm.train);
  writeF32(join(dir, 'train_embeddings.f32'), emb.train);
  writeF32(join(dir, 'test_images.f32'), concatF32(norm.testClean, norm.testTrig));
  writeF32(join(dir, 'test_embeddings.f32'), concatF32(emb.testClean, emb.testTrig));
  writeFileSync(join(dir, 'batch_order.i32'), new Uint8Array(order.buffer));
  writeFileSync(join(dir, 'keep_indices.i32'), new Uint8Array(keep.buffer));
  writeFileSync(join(dir, 'blind_rows.u8'), blind);
  writeFileSync(join(dir, 'ts_losses.json'), JSON.stringify(tr.losses));
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify({
      config: cfg,
      paramSeed: SEED,
      trainCount: count,
      testCount: (norm.testClean.length + norm.testTrig.length) / PIXELS,
      testClean: norm.testClean.length / PIXELS,
      steps: tr.steps,
      batch: BATCH,
      keepCount: Tk,
      maskRatio: recipe.maskRatio,
      blindShare: recipe.blindShare,
      lr: DEFAULT_TRAINING.lr,
      weightDecay: 1e-6,
      scoreBatch: 64,
    }, null, 1),
  );
}

export interface ParityResult {
  readonly encoder: string;
  readonly steps: number;
  readonly torchSeconds: number;
  readonly ts: { readonly finalLoss: number; readonly lastEpochLoss: number; readonly aurocScore: number; readonly aurocDede: number };
  readonly torch: { readonly finalLoss: number; readonly lastEpochLoss: number; readonly aurocScore: number; readonly aurocDede: number };
  readonly lossRelDiff: number;
  /** Over every step's loss, and over every test image's two scores: the largest |TS − torch| / |torch|. */
  readonly maxStepLossRelDiff: number;
  readonly maxScoreRelDiff: number;
  readonly aurocScoreDiff: number;
  readonly aurocDedeDiff: number;
  readonly pass: boolean;
}

export function runParity(dir: string, enc: EncoderResult, perEpoch: number): ParityResult {
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  log(`  [parity] ${PYTHON} ${TORCH_SCRIPT} --train ${dir} --threads ${THREADS} (${enc.train.steps} steps)`);
  const t0 = performance.now();
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, '--train', dir, '--threads', String(THREADS)], { encoding: 'utf8', maxBuffer: 1 << 24, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const torchSeconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${TORCH_SCRIPT} --train failed (${r.status})`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { losses: number[]; trainSeconds: number };
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { testClean: number; testCount: number };
  const buf = readFileSync(join(dir, 'torch_scores.f32'));
  const scores = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4); // [2, testCount]: score, dedeScore
  const n = meta.testCount;
  const lab = labels(meta.testClean, n - meta.testClean);
  const torchLast = out.losses.slice(-perEpoch);
  const torch = {
    finalLoss: out.losses.at(-1) ?? NaN,
    lastEpochLoss: torchLast.reduce((a, b) => a + b, 0) / torchLast.length,
    aurocScore: auroc(scores.subarray(0, n), lab),
    aurocDede: auroc(scores.subarray(n, 2 * n), lab),
  };
  const ts = { finalLoss: enc.train.finalLoss, lastEpochLoss: enc.train.lastEpochLoss, aurocScore: enc.auroc.score, aurocDede: enc.auroc.dedeScore };
  const lossRelDiff = Math.abs(ts.lastEpochLoss - torch.lastEpochLoss) / torch.lastEpochLoss;
  const tsLosses = JSON.parse(readFileSync(join(dir, 'ts_losses.json'), 'utf8')) as { step: number; loss: number }[];
  const maxStepLossRelDiff = Math.max(...tsLosses.map((l) => Math.abs(l.loss - (out.losses[l.step - 1] ?? NaN)) / Math.abs(out.losses[l.step - 1] ?? NaN)));
  const tsBuf = readFileSync(join(dir, 'ts_scores.f32'));
  const tsScores = new Float32Array(tsBuf.buffer, tsBuf.byteOffset, tsBuf.byteLength / 4);
  let maxScoreRelDiff = 0;
  for (let i = 0; i < 2 * n; i++) maxScoreRelDiff = Math.max(maxScoreRelDiff, Math.abs((tsScores[i] as number) - (scores[i] as number)) / Math.abs(scores[i] as number));
  const aurocScoreDiff = Math.abs(ts.aurocScore - torch.aurocScore);
  const aurocDedeDiff = Math.abs(ts.aurocDede - torch.aurocDede);
  return {
    encoder: enc.name,
    steps: enc.train.steps,
    torchSeconds: out.trainSeconds ?? torchSeconds,
    ts,
    torch,
    lossRelDiff,
    maxStepLossRelDiff,
    maxScoreRelDiff,
    aurocScoreDiff,
    aurocDedeDiff,
    pass: lossRelDiff <= TARGETS.parityLoss && aurocScoreDiff <= TARGETS.parityAuroc && aurocDedeDiff <= TARGETS.parityAuroc,
  };
}
