// Model worker: owns one ONNX Runtime instance pinned to one execution provider. A failed WebGPU
// start is final for a JS context (docs/ARCHITECTURE.md §3.4), so the client falls back in a fresh worker.
import './network-report';
import * as Comlink from 'comlink';
import type { EpChoice, GpuAdapterFacts, PlatformFacts } from '../src/core/runtime/ep-choice';
import { loadBrowserOrt } from '../src/core/runtime/ort-browser';
import type { Ort, OrtSession, OrtTensor } from '../src/core/runtime/ort-types';
import { maxAbsDiff, selfTestExpected, selfTestModel, SELF_TEST_INPUT } from '../src/core/runtime/self-test';
import { yieldToEventLoop } from '../src/core/runtime/yield';
import { Trainer, type StepStats } from '../src/core/train/trainer';
import { EncoderRunner, type EncoderSource } from '../src/core/dede/encoder-runner';
import { CacheApiBlobStore } from '../src/core/hub/store';
import type { PixelSource } from '../src/core/workflow/embeddings';
import { OpfsFileStore } from '../src/core/workflow/files';
import { readCheckpoint, runTraining } from '../src/core/workflow/training-run';
import { explainImages, scoreImages } from '../src/core/workflow/scoring';
import { fusedVerdict, verdictTable } from '../src/core/workflow/verdict';
import { revealRun } from '../src/core/workflow/reveal-run';
// The dataset chunks live in OPFS, which workers can read directly.
import { datasetStorage } from '../src/core/workflow/dataset-storage';
import { createRuntime, readFloat32, type Runtime } from '../src/core/runtime/session';
import { errorText } from '../src/core/runtime/error-text';
import { SessionKeep } from '../src/core/runtime/session-keep';
import { DeviceLossSwitch, guardRuntime } from '../src/core/runtime/device-loss';
import { decodeTrainingState } from '../src/core/dede/state-file';
import { CancelRegistry, throwIfCancelled } from '../src/core/runtime/cancel';
import {
  type BackendEvent,
  type BackendInfo,
  type DatasetRef,
  type EncoderFileRef,
  type Feeds,
  type Fetches,
  type HoldableJob,
  type JobProgress,
  type LoadedModel,
  type ModelWorkerApi,
  type SimulatedFault,
} from './model-api';

const SELF_TEST_TOLERANCE = 1e-4;

let runtime: Runtime | null = null;
/** Sessions kept between jobs, by kind and model identity (docs/ARCHITECTURE.md §3.3); this worker's backend is fixed. */
let keep: SessionKeep | null = null;
/** Every ORT session this worker has built (a debug counter: a kept session is built once). */
let sessionsCreated = 0;
/** Trips when the GPU device is lost; every session of `runtime` then refuses to run. */
const deviceLoss = new DeviceLossSwitch();
let pushEvent: ((event: BackendEvent) => void) | undefined;
const sessions = new Map<string, OrtSession>();
const trainers = new Map<string, Trainer>();
let liveGpuBuffers: number | null = null;
/** The one cancel registry: every cancellable job by id; cancel(jobId) aborts it with a CancelledError. */
const jobs = new CancelRegistry();
const workflowFiles = new OpfsFileStore();
const modelFiles = new CacheApiBlobStore();

/**
 * The encoder of a job: its files are read from the Cache API only when a session has to be built,
 * which the kept session (keyed by the encoder's hash) spares every job after the first (§3.3).
 */
function encoderFromCache(ref: EncoderFileRef, size: { height: number; width: number }): EncoderSource & { name: string } {
  return {
    sha256: ref.sha256,
    name: ref.name,
    spec: { inputName: ref.inputName, readout: ref.readout, height: size.height, width: size.width, fixedBatch: ref.fixedBatch },
    async files() {
      const stored = await modelFiles.get(ref.key);
      if (!stored) throw new Error(`The encoder ${ref.name} is no longer in browser storage; load it again in the Encoder step.`);
      const externalData = [];
      for (const ext of ref.externalData) {
        const got = await modelFiles.get(ext.key);
        if (!got) throw new Error(`${ext.path} of the encoder is no longer in browser storage; load the encoder again.`);
        externalData.push({ path: ext.path, data: got.bytes });
      }
      return { bytes: stored.bytes, ...(externalData.length > 0 ? { externalData } : {}) };
    },
  };
}

function datasetSource(ref: DatasetRef): PixelSource {
  const storage = datasetStorage();
  return {
    id: ref.id,
    count: ref.count,
    width: ref.layout.size,
    height: ref.layout.size,
    readRgb: (from, count) => storage.readPixels(ref.id, ref.layout, from, count),
  };
}
let nextModelId = 1;

function adapterFacts(adapter: GPUAdapter): GpuAdapterFacts {
  const info = adapter.info;
  return {
    description: info.description,
    vendor: info.vendor,
    architecture: info.architecture,
    // Older Chromium exposed this on the adapter, newer on its info.
    isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
      (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter),
  };
}

async function requestAdapter(): Promise<{ adapter: GPUAdapter | null; error?: string }> {
  if (!('gpu' in navigator) || !navigator.gpu) return { adapter: null, error: 'this browser has no WebGPU' };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    return adapter ? { adapter } : { adapter: null, error: 'requestAdapter() found no GPU adapter' };
  } catch (err) {
    return { adapter: null, error: `requestAdapter() failed: ${errorText(err)}` };
  }
}

/**
 * Counts live GPU buffers by patching the WebGPU prototypes, so buffers made by ORT's own device
 * (or by Dawn inside its WASM) are seen too: a growing count across train steps is a leak.
 */
function countGpuBuffers(): void {
  if (liveGpuBuffers !== null || typeof GPUDevice === 'undefined') return;
  liveGpuBuffers = 0;
  const create = GPUDevice.prototype.createBuffer;
  const destroy = GPUBuffer.prototype.destroy;
  const alive = new WeakSet<GPUBuffer>();
  GPUDevice.prototype.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor): GPUBuffer {
    const buffer = create.call(this, descriptor);
    alive.add(buffer);
    liveGpuBuffers = (liveGpuBuffers ?? 0) + 1;
    return buffer;
  };
  GPUBuffer.prototype.destroy = function (this: GPUBuffer): undefined {
    if (alive.delete(this)) liveGpuBuffers = (liveGpuBuffers ?? 1) - 1;
    return destroy.call(this);
  };
}

/** The kind of job held at its start (test-only, see ModelWorkerApi.holdJobs). */
let heldJob: HoldableJob | null = null;

/** Waits while jobs of `kind` are held; a cancel ends the wait with a CancelledError. */
async function holdPoint(kind: HoldableJob, signal: AbortSignal): Promise<void> {
  while (heldJob === kind) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    throwIfCancelled(signal);
  }
}

/** Runs `body(0..count-1)`, letting a cancel message in between iterations. */
async function cancellableLoop(signal: AbortSignal, count: number, body: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < count; i++) {
    await yieldToEventLoop();
    throwIfCancelled(signal);
    await body(i);
  }
}

function requireTrainer(trainerId: string): Trainer {
  const trainer = trainers.get(trainerId);
  if (!trainer) throw new Error(`No trainer with id ${trainerId}; it was disposed or the worker restarted.`);
  return trainer;
}

function requireRuntime(): Runtime {
  if (!runtime) throw new Error('The model worker was used before init().');
  return runtime;
}

function requireSession(modelId: string): OrtSession {
  const session = sessions.get(modelId);
  if (!session) throw new Error(`No loaded model with id ${modelId}; load it again.`);
  return session;
}

function toOrtFeeds(ort: Ort, feeds: Feeds): Record<string, OrtTensor> {
  // A fresh tensor per run: ORT may detach input buffers (docs/ARCHITECTURE.md §3.4).
  return Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor('float32', new Float32Array(t.data), [...t.dims])]),
  );
}

async function fromOrtResults(results: Record<string, OrtTensor>): Promise<Fetches> {
  const out: Fetches = {};
  for (const [name, tensor] of Object.entries(results)) {
    out[name] = { dims: [...tensor.dims], data: await readFloat32(tensor) };
    tensor.dispose();
  }
  return out;
}

async function runOnce(modelId: string, feeds: Feeds): Promise<Fetches> {
  const rt = requireRuntime();
  const session = requireSession(modelId);
  return fromOrtResults(await session.run(toOrtFeeds(rt.ort, feeds)));
}

function transferablesOf(fetches: Fetches | Fetches[]): Transferable[] {
  const list = Array.isArray(fetches) ? fetches : [fetches];
  return list.flatMap((f) => Object.values(f).map((t) => t.data.buffer as ArrayBuffer));
}

/** One path for a real `device.lost` and a simulated one: runs stop, the client is told once. */
function loseDevice(reason: string): void {
  if (!deviceLoss.trip(reason)) return;
  // Kept sessions live on the lost device: nothing may use them again (not awaited: the device may never answer).
  void keep?.clear().catch(() => undefined);
  keep = null;
  pushEvent?.({ kind: 'device-lost', message: reason });
}

/** The backend's runtime, counting the sessions it builds. */
function countingRuntime(rt: Runtime): Runtime {
  return {
    ...rt,
    async createSession(model, request) {
      const session = await rt.createSession(model, request);
      sessionsCreated++;
      return session;
    },
  };
}

const api: ModelWorkerApi = {
  async probe(): Promise<PlatformFacts> {
    const { adapter, error } = await requestAdapter();
    return {
      adapter: adapter ? adapterFacts(adapter) : null,
      ...(error ? { adapterError: error } : {}),
      crossOriginIsolated: self.crossOriginIsolated,
      hardwareConcurrency: navigator.hardwareConcurrency,
    };
  },

  async init(choice: EpChoice, onEvent?: (event: BackendEvent) => void): Promise<BackendInfo> {
    const started = performance.now();
    pushEvent = onEvent;
    let adapter: GpuAdapterFacts | null = null;
    const ort = await loadBrowserOrt(choice.ep, choice.wasmThreads);
    if (choice.ep === 'webgpu') {
      countGpuBuffers();
      const found = await requestAdapter();
      if (!found.adapter) throw new Error(`WebGPU start failed: ${found.error ?? 'no adapter'}`);
      adapter = adapterFacts(found.adapter);
      const device = await found.adapter.requestDevice({
        requiredLimits: {
          maxBufferSize: found.adapter.limits.maxBufferSize,
          maxStorageBufferBindingSize: found.adapter.limits.maxStorageBufferBindingSize,
          maxComputeWorkgroupStorageSize: found.adapter.limits.maxComputeWorkgroupStorageSize,
        },
      });
      void device.lost.then((info) => loseDevice(info.message || info.reason));
      ort.env.webgpu.device = device;
    }
    const base = countingRuntime(guardRuntime(createRuntime(ort, choice.ep), deviceLoss));
    keep = new SessionKeep(base);
    runtime = { ...base, keeper: keep };
    let session: OrtSession;
    try {
      session = await runtime.createSession(selfTestModel());
    } catch (err) {
      runtime = null;
      throw new Error(`${choice.ep === 'webgpu' ? 'WebGPU' : 'WASM'} start failed: ${errorText(err)}`);
    }
    try {
      const x = new ort.Tensor('float32', new Float32Array(SELF_TEST_INPUT), [2, 4]);
      const result = await session.run({ x });
      const y = result['y'];
      if (!y) throw new Error('the self-test model returned no output');
      const err = maxAbsDiff(await readFloat32(y), selfTestExpected());
      if (!(err <= SELF_TEST_TOLERANCE)) throw new Error(`the self-test result is wrong (max error ${err})`);
    } catch (err) {
      runtime = null;
      throw new Error(`${choice.ep === 'webgpu' ? 'WebGPU' : 'WASM'} self-test failed: ${errorText(err)}`);
    } finally {
      await session.release();
    }
    return { ...choice, adapter, ortVersion: ort.env.versions.web ?? ort.env.versions.common, selfTestMs: performance.now() - started };
  },

  async loadModel(bytes, externalData): Promise<LoadedModel> {
    const session = await requireRuntime().createSession(bytes, externalData ? { externalData } : {});
    const id = `m${nextModelId++}`;
    sessions.set(id, session);
    return { id, inputNames: [...session.inputNames], outputNames: [...session.outputNames] };
  },

  async run(modelId, feeds) {
    const out = await runOnce(modelId, feeds);
    return Comlink.transfer(out, transferablesOf(out));
  },

  async testEncoder(ref, size, batch) {
    const runner = await EncoderRunner.open(requireRuntime(), encoderFromCache(ref, size), batch);
    try {
      const images = Float32Array.from({ length: batch * 3 * size.height * size.width }, (_, i) => Math.sin(i * 0.37));
      await runner.embed(images, batch);
      const started = performance.now();
      const { dim, data } = await runner.embed(images, batch);
      const ms = performance.now() - started;
      if (!data.every(Number.isFinite)) throw new Error(`The embedding (${ref.readout.output}) contains NaN or infinite values.`);
      return { ms, dim };
    } finally {
      await runner.dispose();
    }
  },

  runBatches(jobId, modelId, batches, onProgress?: (p: JobProgress) => void) {
    return jobs.run(jobId, async (signal) => {
      const results: Fetches[] = [];
      await cancellableLoop(signal, batches.length, async (i) => {
        results.push(await runOnce(modelId, batches[i]!));
        onProgress?.({ done: i + 1, total: batches.length });
      });
      return Comlink.transfer(results, transferablesOf(results));
    });
  },

  cancel(jobId) {
    jobs.cancel(jobId);
  },

  async release(modelId) {
    const session = sessions.get(modelId);
    sessions.delete(modelId);
    await session?.release();
  },

  async createTrainer(graph, initial) {
    const trainer = await Trainer.create(requireRuntime(), graph, initial);
    const id = `t${nextModelId++}`;
    trainers.set(id, trainer);
    return id;
  },

  trainSteps(trainerId, jobId, batches, options, onProgress) {
    return jobs.run(jobId, async (signal) => {
      const trainer = requireTrainer(trainerId);
      const every = Math.max(1, Math.floor(options.readStatsEvery));
      const stats: StepStats[] = [];
      await cancellableLoop(signal, batches.length, async (i) => {
        const read = (i + 1) % every === 0 || i === batches.length - 1;
        const s = await trainer.trainStep(batches[i]!, options.lr, read);
        if (s) stats.push(s);
        onProgress?.({ done: i + 1, total: batches.length, stats: s });
      });
      return stats;
    });
  },

  async trainerCheckpoint(trainerId) {
    const checkpoint = await requireTrainer(trainerId).checkpoint();
    return Comlink.transfer(checkpoint, Object.values(checkpoint.tensors).map((t) => t.buffer as ArrayBuffer));
  },

  async disposeTrainer(trainerId) {
    const trainer = trainers.get(trainerId);
    trainers.delete(trainerId);
    await trainer?.dispose();
  },

  gpuBufferCount() {
    return liveGpuBuffers;
  },

  sessionStats() {
    return { created: sessionsCreated, kept: keep?.stats().kept ?? [] };
  },

  async unloadModels() {
    await keep?.clear();
  },

  trainRun(jobId, spec, onProgress) {
    // Cancelling a training run pauses it: it returns with stoppedBy 'cancel' (once past embedding).
    return jobs.run(jobId, async (signal) =>
      runTraining(requireRuntime(), workflowFiles, {
        runId: spec.runId,
        encoder: encoderFromCache(spec.encoder, spec.preprocessing),
        source: datasetSource(spec.dataset),
        trainSlots: spec.trainSlots,
        preprocessing: spec.preprocessing,
        plan: spec.plan,
        resume: spec.resume,
        ...(spec.heldBackSlots ? { heldBackSlots: spec.heldBackSlots } : {}),
        ...(spec.prefetch ? { prefetch: spec.prefetch.map(datasetSource) } : {}),
      }, { signal, ...(onProgress ? { onProgress } : {}) }),
    );
  },

  scoreDataset(jobId, spec, onProgress) {
    return jobs.run(jobId, async (signal) =>
      scoreImages(requireRuntime(), workflowFiles, {
        encoder: encoderFromCache(spec.encoder, spec.preprocessing),
        source: datasetSource(spec.dataset),
        slots: spec.slots,
        preprocessing: spec.preprocessing,
        decoderPath: spec.decoderPath,
        scorer: spec.scorer,
        contentScale: spec.contentScale,
      }, { signal, ...(onProgress ? { onProgress } : {}) }),
    );
  },

  verdict(jobId, spec) {
    return jobs.run(jobId, async (signal) => {
      await holdPoint('verdict', signal);
      const result = await fusedVerdict(requireRuntime(), workflowFiles, {
        encoder: encoderFromCache(spec.encoder, spec.preprocessing),
        folders: spec.folders.map(datasetSource),
        decoderScores: spec.decoderScores,
        clean: datasetSource(spec.clean),
        cleanDecoderScores: spec.cleanDecoderScores,
        preprocessing: spec.preprocessing,
        targetFpr: spec.targetFpr,
      }, signal);
      const table = verdictTable(result);
      return Comlink.transfer(table, [table.score, table.fusedP, table.collapseScore, table.collapsePValue, table.flagged].map((c) => c.buffer as ArrayBuffer));
    });
  },

  reveal(jobId, spec) {
    return jobs.run(jobId, async (signal) => {
      await holdPoint('reveal', signal);
      return revealRun(requireRuntime(), workflowFiles, {
        encoder: encoderFromCache(spec.encoder, spec.preprocessing),
        folders: spec.folders.map(datasetSource),
        flagged: spec.flagged,
        ...(spec.priority ? { priority: spec.priority } : {}),
        clean: datasetSource(spec.clean),
        cleanSlots: spec.cleanSlots,
        preprocessing: spec.preprocessing,
        decoderPath: spec.decoderPath,
        ...(spec.cleanLabels ? { cleanLabels: spec.cleanLabels } : {}),
      }, signal);
    });
  },

  explain(jobId, spec) {
    return jobs.run(jobId, async (signal) => {
      await holdPoint('explain', signal);
      const out = await explainImages(requireRuntime(), workflowFiles, {
        encoder: encoderFromCache(spec.encoder, spec.preprocessing),
        source: datasetSource(spec.dataset),
        slots: spec.slots,
        preprocessing: spec.preprocessing,
        decoderPath: spec.decoderPath,
      }, signal);
      return Comlink.transfer(out, out.flatMap((e) => [e.reconstruction.buffer, e.pixelError.buffer, e.input.buffer] as ArrayBuffer[]));
    });
  },

  async checkpointStep(runId) {
    const bytes = await readCheckpoint(workflowFiles, runId);
    return bytes ? decodeTrainingState(bytes).state.trainer.step : null;
  },

  ping() {
    return 'pong';
  },

  simulateFault(fault: SimulatedFault) {
    if (fault === 'device-lost') {
      if (runtime?.ep !== 'webgpu') throw new Error('Only a WebGPU backend has a GPU device to lose.');
      loseDevice('simulated for a test');
      return;
    }
    // An uncaught error outside any call (the client sees the worker's error event), then silence.
    setTimeout(() => {
      throw new Error('simulated worker crash');
    });
    setTimeout(() => self.close(), 10);
  },

  holdJobs(job) {
    heldJob = job;
  },

  async readWorkflowFile(path) {
    const bytes = await workflowFiles.read(path);
    return bytes ? Comlink.transfer(bytes, [bytes.buffer as ArrayBuffer]) : null;
  },
};

Comlink.expose(api);
