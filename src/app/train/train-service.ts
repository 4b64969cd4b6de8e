// Starts, pauses and resumes decoder training in the model worker, mirroring progress into the store.
import * as Comlink from 'comlink';
import { defineDecoderConfig, FULL_DECODER, SMALL_DECODER } from '../../core/dede/config';
import { decoderSizeFor, patchSizeFor } from '../../core/dede/decoder-size';
import { importDecoder } from '../../core/dede/decoder-file';
import { stepsPerEpoch, type TrainingPlan } from '../../core/dede/train-loop';
import { DEFAULT_CONVERGENCE } from '../../core/dede/convergence';
import { OpfsFileStore } from '../../core/workflow/files';
import { runPaths, splitSlots, type RunProgress } from '../../core/workflow/training-run';
import { isCancelled } from '../../core/runtime/cancel';
import { errorText } from '../../core/runtime/error-text';
import type { TrainRunSpec } from '../../../workers/model-api';
import { workerJob, type Backend } from '../backend/model-client';
import { getBackend, noteResumed, runOnBackend } from '../backend/backend-service';
import { cancelAppJob, runAppJob } from '../backend/app-jobs';
import { useEncoderStore, type EncoderRecord } from '../encoder/encoder-store';
import { scanFolders, useImagesStore, type DatasetSummary } from '../images/images-store';
import { framingProblems } from '../../core/images/framing';
import { useTrainStore, type TrainRun, type TrainSettings } from './train-store';
import { datasetRef, encoderFileRef } from '../workflow/refs';
import { describeReadout, sameReadout } from '../../core/onnx/readout';

export interface Readiness {
  readonly encoder: EncoderRecord | null;
  readonly dataset: DatasetSummary | null;
  readonly embedDim: number | null;
  /** What is missing, in the user's words (empty when training can start). */
  readonly problems: readonly string[];
}

export function readiness(): Readiness {
  const encoder = useEncoderStore.getState().encoder;
  const testRun = useEncoderStore.getState().testRun;
  const dataset = useImagesStore.getState().datasets.find((d) => d.role === 'clean' && d.status === 'ready') ?? null;
  const problems: string[] = [];
  let embedDim: number | null = null;
  if (!encoder) problems.push('Load an encoder in the Encoder step.');
  else if (!encoder.check.ok) problems.push(`The loaded model is not an image encoder: ${encoder.check.reason}`);
  else {
    embedDim = encoder.readout?.dim ?? (testRun ? testRun.outputDims[1] ?? null : null);
    if (!encoder.readout) problems.push(`Choose the embedding output in the Encoder step: ${encoder.readoutQuestion ?? 'none is chosen.'}`);
    if (!encoder.preprocessing) problems.push('The encoder has no known normalisation (preprocessor_config.json).');
    if (encoder.readout && embedDim === null) problems.push('The embedding size is not fixed in the model: press Test run in the Encoder step once.');
  }
  if (!dataset) problems.push('Add a clean reference folder in the Images step (role: clean reference).');
  else if (!dataset.persistent) problems.push(`${dataset.name} is only in memory (this browser has no OPFS); the training worker cannot read it.`);
  if (encoder?.preprocessing && dataset) problems.push(...framingProblems(dataset, encoder.preprocessing));
  return { encoder, dataset, embedDim, problems };
}

/** The decoder's training plan for images stored at `workingSize` (the encoder's input size). */
export function planFor(settings: TrainSettings, workingSize: number, embedDim: number, trainCount: number): TrainingPlan {
  const preset = settings.preset === 'full' ? FULL_DECODER : SMALL_DECODER;
  const imageSize = decoderSizeFor(workingSize, settings.decoderSize).size;
  return {
    cfg: defineDecoderConfig({ ...preset, imageSize, patchSize: settings.patchSize !== null && imageSize % settings.patchSize === 0 ? settings.patchSize : patchSizeFor(imageSize), embedDim }),
    batchSize: Math.min(settings.batchSize, trainCount),
    maskRatio: settings.maskRatio,
    blindShare: settings.blindShare,
    lr: settings.lr,
    epochs: settings.epochs,
    minutes: settings.minutes,
    seed: settings.seed,
    // Reading the loss syncs the GPU; short runs read it every step so the curve has points.
    readLossEvery: settings.epochs * Math.floor(trainCount / Math.min(settings.batchSize, trainCount)) < 200 ? 1 : 5,
    checkpointEvery: 20,
    // One progress message a second, not one per step (docs/ARCHITECTURE.md §8.4).
    progressSeconds: 1,
    convergence: settings.stopWhenConverged ? DEFAULT_CONVERGENCE : null,
  };
}

function onProgress(p: RunProgress): void {
  const { setLive, patchRun } = useTrainStore.getState();
  if (p.phase === 'prefetch') {
    useTrainStore.getState().setPrefetch({ done: p.done, total: p.total, finished: p.finished, folders: p.folders });
    return;
  }
  if (p.phase === 'collapse') {
    const prefetch = useTrainStore.getState().prefetch;
    if (prefetch) useTrainStore.getState().setPrefetch({ ...prefetch, gate: p.gate });
    return;
  }
  if (p.phase === 'embed') {
    setLive({ phase: 'embed', done: p.done, total: p.total, imagesPerSecond: p.imagesPerSecond, etaSeconds: p.etaSeconds, stepsPerSecond: null });
    return;
  }
  const run = useTrainStore.getState().run;
  const stepsPerSecond = p.elapsedSeconds > 0 ? p.step / p.elapsedSeconds : null;
  setLive({ phase: 'train', done: p.step, total: p.totalSteps, imagesPerSecond: p.imagesPerSecond, etaSeconds: p.etaSeconds, stepsPerSecond });
  patchRun({
    status: 'training',
    step: p.step,
    totalSteps: p.totalSteps,
    elapsedSeconds: p.elapsedSeconds,
    ...(p.newLosses.length > 0 && run ? { losses: [...run.losses, ...p.newLosses] } : {}),
    ...(p.newHeldBack && p.newHeldBack.length > 0 && run ? { heldBack: [...run.heldBack, ...p.newHeldBack] } : {}),
  });
}

/** Runs (or resumes) `run` as the app's training job: pauseTraining(), or aborting `signal`, pauses it. */
function execute(run: TrainRun, resume: boolean, signal?: AbortSignal): Promise<void> {
  return runAppJob('training', (jobSignal) => train(run, resume, jobSignal), signal);
}

async function train(run: TrainRun, resume: boolean, signal: AbortSignal): Promise<void> {
  const { encoder, dataset } = readiness();
  if (!encoder?.check.ok || !encoder.preprocessing || !dataset) throw new Error('The encoder or the clean folder is gone; check the Encoder and Images steps.');
  const { patchRun, setLive } = useTrainStore.getState();
  const preprocessing = encoder.preprocessing;
  const spec: TrainRunSpec = {
    runId: run.runId,
    encoder: encoderFileRef(encoder),
    dataset: datasetRef(dataset),
    trainSlots: run.trainSlots,
    preprocessing,
    plan: run.plan,
    resume,
    heldBackSlots: run.heldOutSlots,
    // The scan's folders, embedded between epochs (§8.6): those stored as the encoder needs them.
    prefetch: scanFolders(useImagesStore.getState().datasets)
      .filter((d) => d.persistent && framingProblems(d, preprocessing).length === 0)
      .map(datasetRef),
  };
  patchRun({ status: 'embedding', error: null, stoppedBy: null, convergedAt: null });
  useTrainStore.getState().setPrefetch(null);
  try {
    const result = await runOnBackend(async (backend, retry) => {
      if (retry) await rewindToCheckpoint(backend, run.runId);
      return workerJob(backend, signal, (jobId) => backend.api.trainRun(jobId, { ...spec, resume: resume || retry }, Comlink.proxy(onProgress)));
    });
    patchRun({
      status: result.stoppedBy === 'cancel' ? 'paused' : 'done',
      step: result.steps,
      elapsedSeconds: result.elapsedSeconds,
      losses: result.losses,
      decoderPath: result.decoderPath,
      heldBack: result.heldBack,
      ...(result.stoppedBy === 'cancel' ? {} : { stoppedBy: result.stoppedBy, convergedAt: result.convergedAt }),
    });
  } catch (err) {
    // Paused before training began (while embedding): resuming starts it, reusing the cached embeddings.
    patchRun(isCancelled(err) ? { status: 'paused', error: null } : { status: 'failed', error: errorText(err) });
  } finally {
    setLive(null);
  }
}

/** After a backend fault: the curve and step go back to the last checkpoint, where training resumes. */
async function rewindToCheckpoint(backend: Backend, runId: string): Promise<void> {
  const step = (await backend.api.checkpointStep(runId)) ?? 0;
  const run = useTrainStore.getState().run;
  const perEpoch = run ? Math.max(1, stepsPerEpoch(run.trainSlots.length, run.plan.batchSize)) : 1;
  useTrainStore.getState().patchRun({ step, losses: (run?.losses ?? []).filter((p) => p.step <= step), heldBack: (run?.heldBack ?? []).filter((p) => p.epoch * perEpoch <= step) });
  noteResumed(step > 0 ? `Training resumed from step ${step} (its last checkpoint).` : 'Training restarted (no checkpoint had been saved yet).');
}

/** Starts a new run; pauseTraining(), or aborting `signal`, pauses it. */
export async function startTraining(signal?: AbortSignal): Promise<void> {
  const r = readiness();
  if (r.problems.length > 0 || !r.dataset || !r.encoder || r.embedDim === null) throw new Error(r.problems.join(' '));
  const { settings, setRun } = useTrainStore.getState();
  const split = splitSlots(r.dataset.counts.images, settings.holdOut, settings.seed);
  if (split.train.length < 2) throw new Error(`Only ${split.train.length} clean images would be left to train on; add more clean images.`);
  const run: TrainRun = {
    runId: `r${Date.now().toString(36)}`,
    status: 'embedding',
    datasetId: r.dataset.id,
    datasetName: r.dataset.name,
    encoderSha256: r.encoder.sha256,
    ...(r.encoder.readout ? { readout: { output: r.encoder.readout.output, pooling: r.encoder.readout.pooling } } : {}),
    plan: planFor(settings, r.dataset.layout.size, r.embedDim, split.train.length),
    trainSlots: split.train,
    heldOutSlots: split.heldOut,
    step: 0,
    totalSteps: null,
    losses: [],
    elapsedSeconds: 0,
    decoderPath: null,
    error: null,
    startedAt: new Date().toISOString(),
    imported: false,
    heldBack: [],
    stoppedBy: null,
    convergedAt: null,
  };
  setRun(run);
  await execute(run, false, signal);
}

export async function resumeTraining(signal?: AbortSignal): Promise<void> {
  const run = useTrainStore.getState().run;
  if (!run) return;
  await execute(run, true, signal);
}

/** Pauses the run in progress, if any, wherever it was started: the worker stops after the current step and keeps its checkpoint. */
export function pauseTraining(): void {
  cancelAppJob('training');
}

export async function discardRun(): Promise<void> {
  pauseTraining();
  const run = useTrainStore.getState().run;
  if (run) await new OpfsFileStore().remove(`runs/${run.runId}`);
  useTrainStore.getState().setRun(null);
}

export async function exportDecoderFile(): Promise<{ name: string; bytes: Uint8Array }> {
  const run = useTrainStore.getState().run;
  if (!run?.decoderPath) throw new Error('No trained decoder yet.');
  const bytes = await new OpfsFileStore().read(run.decoderPath);
  if (!bytes) throw new Error('The trained decoder is no longer in browser storage; train again.');
  return { name: `dede-decoder-${run.runId}.onnx`, bytes };
}

/** Imports a decoder file (strictly validated) as the current run. */
export async function importDecoderFile(file: File): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let imported;
  try {
    imported = importDecoder(bytes);
  } catch (err) {
    throw new Error(`${file.name} is not a DeDe decoder this version can load: ${errorText(err)}`);
  }
  const { encoder, dataset } = readiness();
  const trainedOn = imported.meta.encoder?.readout;
  if (encoder?.readout && trainedOn && !sameReadout(encoder.readout, trainedOn)) {
    throw new Error(`${file.name} was trained on the embedding ${describeReadout(trainedOn)}, but the Encoder step reads ${describeReadout(encoder.readout)}: choose ${describeReadout(trainedOn)} there first.`);
  }
  const dim = encoder?.readout?.dim ?? null;
  if (dim !== null && dim !== imported.cfg.embedDim) {
    throw new Error(`${file.name} expects embeddings of size ${imported.cfg.embedDim}, but the loaded encoder gives ${dim}.`);
  }
  const runId = `imported-${Date.now().toString(36)}`;
  await new OpfsFileStore().write(runPaths(runId).decoder, bytes);
  const split = dataset ? splitSlots(dataset.counts.images, useTrainStore.getState().settings.holdOut, useTrainStore.getState().settings.seed) : { train: [], heldOut: [] };
  useTrainStore.getState().setRun({
    runId,
    status: 'done',
    datasetId: dataset?.id ?? '',
    datasetName: dataset?.name ?? '',
    encoderSha256: imported.meta.encoder?.sha256 ?? encoder?.sha256 ?? '',
    ...(trainedOn ? { readout: { output: trainedOn.output, pooling: trainedOn.pooling } } : {}),
    plan: { cfg: imported.cfg, batchSize: imported.meta.training.batchSize ?? 0, maskRatio: imported.meta.training.maskRatio, blindShare: imported.meta.training.blindShare ?? 0, lr: imported.meta.training.lr ?? 0, epochs: imported.meta.training.epochs ?? null, minutes: null, seed: imported.meta.training.seed ?? 0, readLossEvery: 0, checkpointEvery: 0 },
    // An imported decoder was trained elsewhere: every clean image here can calibrate it.
    trainSlots: [],
    heldOutSlots: dataset ? [...split.train, ...split.heldOut].sort((a, b) => a - b) : [],
    step: imported.meta.training.steps ?? 0,
    totalSteps: imported.meta.training.steps ?? null,
    losses: [],
    elapsedSeconds: imported.meta.training.elapsedSeconds ?? 0,
    decoderPath: runPaths(runId).decoder,
    error: null,
    startedAt: imported.meta.createdAt ?? new Date().toISOString(),
    imported: true,
    heldBack: [],
    stoppedBy: null,
    convergedAt: imported.meta.training.convergedAtEpoch ?? null,
  });
}
