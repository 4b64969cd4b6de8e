// `dede train`: embeddings of a clean image folder through the encoder, then decoder training with
// checkpoints, then the trained decoder as a standard ONNX file.
import { readFile, rename, writeFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { FULL_DECODER, SMALL_DECODER, defineDecoderConfig, type DecoderConfig } from '../../core/dede/config';
import { convergenceText, DEFAULT_CONVERGENCE, heldBackSample, heldBackScorer } from '../../core/dede/convergence';
import type { DecoderWeights } from '../../core/dede/params';
import type { Runtime } from '../../core/runtime/session';
import { initDecoderWeights } from '../../core/dede/init';
import { decodeTrainingState, encodeTrainingState } from '../../core/dede/state-file';
import { DEFAULT_TRAINING, trainDecoder, type TrainingPlan, type TrainingState } from '../../core/dede/train-loop';
import { createRuntime } from '../../core/runtime/session';
import { writeDecoderFile } from '../decoder-io';
import { trainingInfoFrom } from '../../core/dede/decoder-file';
import { DEDE_ADAM } from '../../core/dede/train-step';
import { fraction, num, share, numberList, optionalNum, parse, positive, positiveInt, required, UsageError, type Options } from '../args';
import { loadCliEncoder, OUTPUT_HELP, type CliEncoder } from '../encoder';
import { DEVICE_HELP, parseDevice } from '../device';
import { describeReadout, readoutKey, readoutRecord } from '../../core/onnx/readout';
import { trainingData } from '../data';
import { atDecoderSize, loadImageFolder, normalizedBatch } from '../node-images';
import { atSize } from '../../core/workflow/embeddings';
import { progressLine } from '../progress';
import { embedImages } from '../embed-images';

export const TRAIN_HELP = `dede train — train a DeDe decoder on (mostly) clean images

  --encoder FILE       the SSL encoder (.onnx); the nearest preprocessor_config.json
                       (beside it, or up to 2 folders above, e.g. a repo root above onnx/) is read
  --images DIR         folder of clean images (read recursively)
  --out FILE           where to write the trained decoder (.onnx)
  --epochs N           epoch budget (default ${DEFAULT_TRAINING.epochs})
  --minutes M          time budget (default ${DEFAULT_TRAINING.minutes}); training stops at whichever comes first
  --batch N            batch size (default ${DEFAULT_TRAINING.batchSize})
  --mask R             training mask ratio (default ${DEFAULT_TRAINING.maskRatio})
  --blind S            share of each batch trained with no visible patch (default ${DEFAULT_TRAINING.blindShare})
  --lr X               learning rate (default ${DEFAULT_TRAINING.lr})
  --seed N             random seed (default ${DEFAULT_TRAINING.seed})
  --preset small|full  decoder size (default small: fast on a laptop CPU)
  --decoder-size N     decoder image size (default 32)
  --held-back DIR      clean images NOT in --images (e.g. the calibration folder): scored after every
                       epoch, and training stops once their loss stopped moving (converged; the
                       epochs stay the ceiling). Without it, the epoch and time budgets decide.
  --fixed-epochs       with --held-back: report the held-back loss but never stop early
  --checkpoint FILE    save the training state here every few hundred steps (default OUT.ckpt)
  --resume             continue from --checkpoint if it exists
  --mean r,g,b --std r,g,b --encoder-size N
                       the encoder's normalisation when it has no preprocessor_config.json
${OUTPUT_HELP}${DEVICE_HELP}`;

const OPTIONS: Options = {
  encoder: { type: 'string' },
  images: { type: 'string' },
  out: { type: 'string' },
  epochs: { type: 'string' },
  minutes: { type: 'string' },
  batch: { type: 'string' },
  mask: { type: 'string' },
  blind: { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  preset: { type: 'string' },
  'decoder-size': { type: 'string' },
  checkpoint: { type: 'string' },
  resume: { type: 'boolean' },
  'held-back': { type: 'string' },
  'fixed-epochs': { type: 'boolean' },
  mean: { type: 'string' },
  std: { type: 'string' },
  'encoder-size': { type: 'string' },
  output: { type: 'string' },
  device: { type: 'string' },
};

export async function trainCommand(argv: readonly string[]): Promise<void> {
  const v = parse(argv, OPTIONS);
  const out = required(v, 'out');
  const preset = (v['preset'] as string | undefined) ?? 'small';
  if (preset !== 'small' && preset !== 'full') throw new UsageError(`--preset must be small or full, got ${preset}.`);
  const encoderSize = optionalNum(v, 'encoder-size', positiveInt);
  const mean = numberList(v, 'mean', 3);
  const std = numberList(v, 'std', 3);
  const encoder = await loadCliEncoder(required(v, 'encoder'), {
    ...(encoderSize !== undefined ? { size: encoderSize } : {}),
    ...(mean ? { mean } : {}),
    ...(std ? { std } : {}),
  }, v['output'] !== undefined ? { output: v['output'] as string } : {}, parseDevice(v['device']));
  const decoderSize = num(v, 'decoder-size', 32, positiveInt);
  const imagesDir = required(v, 'images');
  const runtime = createRuntime(ort, 'cpu');

  const loading = progressLine('read');
  const encImages = await loadImageFolder(imagesDir, encoder.preprocessing, (d, t) => loading.update(d, t));
  loading.done(`${encImages.paths.length} images, ${encImages.unreadable.length} unreadable`);
  for (const u of encImages.unreadable) process.stderr.write(`  skipped ${u.path}: ${u.reason}\n`);
  const decPre = atSize(encoder.preprocessing, decoderSize);
  const decImages = atDecoderSize(encImages, decoderSize);

  const n = encImages.paths.length;
  const { data: embeddings, dim } = await embedImages(encImages, encoder, 'train');
  process.stderr.write(`embedding: ${describeReadout(encoder.readout)} (${encoder.readout.reason})\n`);

  const cfg = defineDecoderConfig({ ...(preset === 'full' ? FULL_DECODER : SMALL_DECODER), imageSize: decoderSize, embedDim: dim });
  const heldBackDir = v['held-back'] as string | undefined;
  if (v['fixed-epochs'] && heldBackDir === undefined) throw new UsageError('--fixed-epochs only applies with --held-back DIR.');
  const heldBack = heldBackDir === undefined ? null : await loadHeldBack(heldBackDir, encoder, decoderSize, cfg, runtime);
  const epochs = num(v, 'epochs', DEFAULT_TRAINING.epochs ?? 50, positive);
  const minutes = num(v, 'minutes', DEFAULT_TRAINING.minutes ?? 10, positive);
  const plan: TrainingPlan = {
    ...DEFAULT_TRAINING,
    cfg,
    epochs,
    minutes,
    batchSize: num(v, 'batch', DEFAULT_TRAINING.batchSize, positiveInt),
    maskRatio: num(v, 'mask', DEFAULT_TRAINING.maskRatio, fraction),
    blindShare: num(v, 'blind', DEFAULT_TRAINING.blindShare, share),
    lr: num(v, 'lr', DEFAULT_TRAINING.lr, positive),
    seed: num(v, 'seed', DEFAULT_TRAINING.seed, Number.isInteger),
    convergence: heldBackDir !== undefined && !v['fixed-epochs'] ? DEFAULT_CONVERGENCE : null,
  };
  // A plain [N, D] readout is left out, as checkpoints were written before readouts could be chosen.
  const runMeta = { encoderSha256: encoder.sha256, ...(encoder.readout.pooling !== 'none' ? { readout: readoutKey(encoder.readout) } : {}), images: n, plan: { ...plan, cfg } };
  const checkpointPath = (v['checkpoint'] as string | undefined) ?? `${out}.ckpt`;
  let resumeFrom: TrainingState | undefined;
  if (v['resume']) {
    const bytes = await readFile(checkpointPath).catch(() => null);
    if (bytes) {
      const { state, meta } = decodeTrainingState(new Uint8Array(bytes));
      if (JSON.stringify(meta) !== JSON.stringify(runMeta)) {
        throw new Error(`${checkpointPath} belongs to a different run (other encoder, images or settings); delete it or drop --resume.`);
      }
      resumeFrom = state;
      process.stderr.write(`resuming from step ${state.trainer.step}\n`);
    }
  }

  const saveState = async (state: TrainingState) => {
    // Write then rename, so a crash mid-write never leaves a broken checkpoint.
    await writeFile(`${checkpointPath}.tmp`, encodeTrainingState(state, runMeta));
    await rename(`${checkpointPath}.tmp`, checkpointPath);
  };
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const bar = progressLine('train');
  let lastLoss: number | null = null;
  const result = await trainDecoder(runtime, trainingData(decImages, decPre, embeddings, dim), plan, initDecoderWeights(cfg, plan.seed), {
    signal: controller.signal,
    ...(resumeFrom ? { resumeFrom } : {}),
    onCheckpoint: saveState,
    ...(heldBack ? { heldBack } : {}),
    onProgress: (p) => {
      for (const h of p.newHeldBack ?? []) process.stderr.write(`\nheld-back loss after epoch ${h.epoch}: ${h.loss.toFixed(4)} (95th percentile ${h.quantile.toFixed(4)})\n`);
      lastLoss = p.loss ?? lastLoss;
      bar.update(p.step, p.totalSteps, `epoch ${p.epoch.toFixed(1)}${lastLoss !== null ? ` loss ${lastLoss.toFixed(4)}` : ''} ${p.imagesPerSecond.toFixed(0)} img/s`);
    },
  }).finally(() => process.off('SIGINT', onSigint));
  const why = result.convergedAt !== null ? convergenceText(result.convergedAt, DEFAULT_CONVERGENCE) : `stopped by ${result.stoppedBy}`;
  bar.done(`${result.steps} steps, ${result.epochs.toFixed(1)} epochs in ${result.elapsedSeconds.toFixed(0)} s (${why}); final loss ${result.losses.at(-1)?.loss.toFixed(4) ?? 'n/a'}`);
  if (result.stoppedBy === 'cancel') {
    process.stderr.write(`interrupted: state saved to ${checkpointPath}; run again with --resume to continue\n`);
    process.exitCode = 130;
    return;
  }
  await writeDecoderFile(out, cfg, result.weights, {
    training: { ...trainingInfoFrom(plan, result, n), weightDecay: DEDE_ADAM.weightDecay ?? 0, dataset: imagesDir },
    encoder: { name: encoder.path, sha256: encoder.sha256, output: encoder.readout.output, readout: readoutRecord(encoder.readout, dim) },
    createdAt: new Date().toISOString(),
  });
  process.stdout.write(`${out}\n`);
}

/** The --held-back folder as the train loop's heldBack hook: a fixed sample, embedded once (cached). */
async function loadHeldBack(dir: string, encoder: CliEncoder, decoderSize: number, cfg: DecoderConfig, runtime: Runtime): Promise<(weights: DecoderWeights) => Promise<number[]>> {
  const all = await loadImageFolder(dir, encoder.preprocessing);
  if (all.paths.length === 0) throw new Error(`--held-back ${dir} holds no readable image.`);
  const { data, dim } = await embedImages(all, encoder, 'held-back');
  const pick = heldBackSample(all.paths.length);
  const decPre = atSize(encoder.preprocessing, decoderSize);
  const small = atDecoderSize(all, decoderSize);
  const images = normalizedBatch(small, pick, decPre);
  const emb = new Float32Array(pick.length * dim);
  pick.forEach((i, k) => emb.set(data.subarray(i * dim, (i + 1) * dim), k * dim));
  process.stderr.write(`held-back: ${pick.length} of ${all.paths.length} images in ${dir}, scored after every epoch\n`);
  return heldBackScorer(runtime, cfg, images, emb);
}
