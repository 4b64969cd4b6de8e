// Embedding, scoring and decoder training for one encoder (with a cache of trained decoders).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ContentScale, contentScore, type ContentScorer, type DecoderConfig, DEFAULT_TRAINING, type DecoderWeights, exportDecoder, FULL_DECODER, gatherRows, importDecoder, initDecoderWeights, trainDecoder, type TrainingData, trainingInfoFrom, type TrainingResult } from '../../src/core/dede';
import { EncoderRunner } from '../../src/core/dede/encoder-runner';
import type { Runtime } from '../../src/core/runtime/session';
import { f, log } from './common';
import { PIXELS } from './data';
import type { Embedded, Normalised, RawScores, SetScores } from './metrics';
import { type Budget, budgetText, CACHE, type Recipe, recipeSuffix, SEED } from './settings';

export async function embedAll(runner: EncoderRunner, norm: Normalised): Promise<Embedded> {
  const e = async (x: Float32Array) => runner.embed(x, x.length / PIXELS);
  const train = await e(norm.train);
  return { dim: train.dim, train: train.data, cal: (await e(norm.cal)).data, testClean: (await e(norm.testClean)).data, testTrig: (await e(norm.testTrig)).data, reference: (await e(norm.reference)).data, salted: (await e(norm.salted)).data };
}

/** The decoder's and the content score's components of a set (the encoder input is the 32 px image itself). */
export async function scoreRaw(scorer: ContentScorer, images: Float32Array, embeddings: Float32Array): Promise<RawScores> {
  const r = await scorer.scoreBatch({ decoderImages: images, encoderImages: images, embeddings });
  return { components: r.map((x) => x.components), median: Float64Array.from(r, (x) => x.decoder.score), dedeScore: Float64Array.from(r, (x) => x.decoder.dedeScore), patchErrors: r.map((x) => x.decoder.patchErrors) };
}

/** The set's decoderScore on a clean scale (fitted on the calibration images, as the CLI and app do). */
export function withScale(raw: RawScores, scale: ContentScale): SetScores {
  return { ...raw, score: Float64Array.from(raw.components, (c) => contentScore(c, scale)) };
}

export function trainingData(images: Float32Array, embeddings: Float32Array, dim: number): TrainingData {
  return {
    count: images.length / PIXELS,
    batch: async (indices) => ({ images: gatherRows(images, PIXELS, indices), embeddings: gatherRows(embeddings, dim, indices) }),
  };
}

export async function train(rt: Runtime, cfg: DecoderConfig, images: Float32Array, embeddings: Float32Array, budget: Budget, recipe: Recipe, label: string): Promise<TrainingResult> {
  let lastPrint = 0;
  return trainDecoder(
    rt,
    trainingData(images, embeddings, cfg.embedDim),
    { ...DEFAULT_TRAINING, cfg, ...recipe, epochs: budget.epochs, minutes: budget.minutes, seed: SEED, readLossEvery: 1, checkpointEvery: 0 },
    initDecoderWeights(cfg, SEED),
    {
      onProgress: (p) => {
        if (p.elapsedSeconds - lastPrint < 30) return;
        lastPrint = p.elapsedSeconds;
        log(`  [${label}] train ${p.elapsedSeconds.toFixed(0)} s: step ${p.step}, epoch ${p.epoch.toFixed(1)}, loss ${f(p.loss, 4)}, ${p.imagesPerSecond.toFixed(0)} img/s`);
      },
    },
  );
}

/** What the rest of the bench reads of a training run (a reused decoder has no optimizer state). */
export type TrainedDecoder = Omit<TrainingResult, 'state'>;

/**
 * Trains, or with `reuse` loads the decoder saved by an earlier run with the same encoder, config,
 * budget and mask (decoder-file format, strict import) plus its loss history. Always saves.
 */
export async function trainOrReuse(rt: Runtime, encoderSha: string, cfg: DecoderConfig, norm: Pick<Normalised, 'train'>, emb: Pick<Embedded, 'train'>, budget: Budget, recipe: Recipe, reuse: boolean, label: string): Promise<TrainedDecoder & { readonly reused: boolean; readonly full: TrainingResult | null }> {
  const preset = cfg.encDepth === FULL_DECODER.encDepth && cfg.decDim === FULL_DECODER.decDim ? '-full' : '';
  const key = `${encoderSha.slice(0, 16)}${preset}-${budgetText(budget).replace(/ /g, '')}${recipeSuffix(recipe, true)}-seed${SEED}`;
  const dir = join(CACHE, 'decoders');
  const onnxPath = join(dir, `${key}.onnx`);
  const infoPath = join(dir, `${key}.json`);
  if (reuse && existsSync(onnxPath) && existsSync(infoPath)) {
    const imported = importDecoder(new Uint8Array(readFileSync(onnxPath)));
    const differs = (Object.keys(cfg) as (keyof DecoderConfig)[]).filter((k) => imported.cfg[k] !== cfg[k]);
    if (differs.length > 0) throw new Error(`${onnxPath}: its ${differs.join(', ')} differ from this bench's config; delete it`);
    const info = JSON.parse(readFileSync(infoPath, 'utf8')) as Omit<TrainedDecoder, 'weights'>;
    log(`  [${label}] reusing the decoder in ${onnxPath} (${info.steps} steps, ${info.epochs} epochs)`);
    return { ...info, weights: imported.weights as DecoderWeights, reused: true, full: null };
  }
  const tr = await train(rt, cfg, norm.train, emb.train, budget, recipe, label);
  mkdirSync(dir, { recursive: true });
  const plan = { ...DEFAULT_TRAINING, ...recipe, epochs: budget.epochs, minutes: budget.minutes, seed: SEED };
  writeFileSync(onnxPath, exportDecoder(cfg, tr.weights, { training: trainingInfoFrom(plan, tr, norm.train.length / PIXELS), encoder: { sha256: encoderSha } }));
  const { weights: _w, state: _s, ...info } = tr;
  writeFileSync(infoPath, JSON.stringify(info));
  return { ...tr, reused: false, full: tr };
}

export function lastEpochLoss(r: TrainedDecoder, perEpoch: number): number {
  const tail = r.losses.filter((l) => l.step > r.steps - perEpoch);
  return tail.reduce((a, l) => a + l.loss, 0) / Math.max(1, tail.length);
}
