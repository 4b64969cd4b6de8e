// `window.dedeDebug`: a small console/automation handle onto the live backend (the e2e tests use
// it to run models they build). It exposes nothing the UI cannot already do.
import * as Comlink from 'comlink';
import type { Feeds, Fetches, HoldableJob, JobProgress, SessionStats, SimulatedFault } from '../../../workers/model-api';
import type { Batch, StepStats, TrainCheckpoint, TrainGraph } from '../../core/train/trainer';
import { errorText } from '../../core/runtime/error-text';
import { getBackend, simulateFault } from './backend-service';
import { useScanStore, type ScanRow } from '../scan/scan-store';
import { runBatches, type Backend } from './model-client';
import { preprocessingFromHf } from '../../core/images/preprocess';
import { datasetStorage } from '../../core/workflow/dataset-storage';
import { useImagesStore } from '../images/images-store';
import { datasetPaths } from '../images/images-service';

export interface BatchRunReport {
  readonly progress: JobProgress[];
  readonly outputs: Fetches[] | null;
  readonly error: string | null;
}

export interface DedeDebugHandle {
  backendInfo(): Promise<unknown>;
  runModel(bytes: Uint8Array, feeds: Feeds): Promise<Fetches>;
  /** Runs a batch job; with `cancelAfter`, aborts once that many runs have reported progress. */
  runBatches(bytes: Uint8Array, batches: Feeds[], cancelAfter?: number): Promise<BatchRunReport>;
  /**
   * Trains `steps` steps in the worker, cycling through `batches`, and samples the live GPU buffer
   * count every `sampleEvery` steps (a leak shows as a growing count).
   */
  train(graph: TrainGraph, initial: TrainCheckpoint, batches: Batch[], options: TrainRunOptions): Promise<TrainRunReport>;
  /** Test-only fault at the runtime seam: the worker's GPU device is lost, or the worker crashes. */
  simulateFault(fault: SimulatedFault): Promise<void>;
  /** The current scan's rows and threshold (what Review shows). */
  scanResults(): { threshold: number | null; rows: readonly ScanRow[] };
  /** GPU buffers the model worker holds now (null on the WASM backend): a leak shows as growth. */
  gpuBufferCount(): Promise<number | null>;
  /** ORT sessions the model worker has built, and the ones it keeps (docs/ARCHITECTURE.md §3.3). */
  sessionStats(): Promise<SessionStats>;
  /** Releases the worker's kept sessions. */
  unloadModels(): Promise<void>;
  /** Test-only: holds the worker's jobs of one kind at their start (null lets them go), to cancel them mid-way. */
  holdJobs(job: HoldableJob | null): Promise<void>;
  /**
   * Gives the Images step an encoder's resize plan, read from a preprocessor_config.json object (what
   * loading that encoder does); null clears it. Returns the plan's description.
   */
  setResizePlan(config: Record<string, unknown> | null): string | null;
  /** A loaded dataset's stored working pixels (RGB, base64) and each slot's path. */
  datasetPixels(name: string): Promise<{ size: number; paths: string[]; rgbBase64: string }>;
}

export interface TrainRunOptions {
  readonly lr: number;
  readonly steps: number;
  readonly readStatsEvery: number;
  readonly sampleEvery: number;
}

export interface TrainRunReport {
  readonly stats: StepStats[];
  readonly checkpoint: TrainCheckpoint;
  readonly gpuBuffers: (number | null)[];
  readonly ms: number;
}

declare global {
  interface Window {
    dedeDebug?: DedeDebugHandle;
  }
}

export function installDebugHandle(): void {
  window.dedeDebug = {
    async backendInfo() {
      const backend = await getBackend();
      return { ...backend.info, fallbackReason: backend.fallbackReason };
    },
    async runModel(bytes, feeds) {
      return withModel(bytes, async ({ api }, modelId) => api.run(modelId, feeds));
    },
    simulateFault,
    async gpuBufferCount() {
      return (await getBackend()).api.gpuBufferCount();
    },
    async sessionStats() {
      return (await getBackend()).api.sessionStats();
    },
    async unloadModels() {
      await (await getBackend()).api.unloadModels();
    },
    async holdJobs(job) {
      await (await getBackend()).api.holdJobs(job);
    },
    setResizePlan(config) {
      const plan = config ? preprocessingFromHf(config, null).resize ?? null : null;
      useImagesStore.getState().setResizePlan(plan);
      return plan?.description ?? null;
    },
    async datasetPixels(name) {
      const dataset = useImagesStore.getState().datasets.find((d) => d.name === name);
      if (!dataset) throw new Error(`No dataset named ${name}.`);
      const paths = await datasetPaths(dataset);
      const rgb = await datasetStorage().readPixels(dataset.id, dataset.layout, 0, dataset.counts.images);
      let binary = '';
      for (let i = 0; i < rgb.length; i += 0x8000) binary += String.fromCharCode(...rgb.subarray(i, i + 0x8000));
      return { size: dataset.layout.size, paths, rgbBase64: btoa(binary) };
    },
    scanResults() {
      const { calibration, table } = useScanStore.getState();
      return { threshold: calibration?.calibration.threshold ?? null, rows: table.rows() };
    },
    async train(graph, initial, batches, options) {
      const { api } = await getBackend();
      const bytes = graph.bytes.slice();
      const trainerId = await api.createTrainer(Comlink.transfer({ ...graph, bytes }, [bytes.buffer]), initial);
      const started = performance.now();
      try {
        const stats: StepStats[] = [];
        const gpuBuffers: (number | null)[] = [];
        for (let done = 0; done < options.steps; ) {
          const n = Math.min(options.sampleEvery, options.steps - done);
          const chunk = Array.from({ length: n }, (_, i) => batches[(done + i) % batches.length]!);
          stats.push(...(await api.trainSteps(trainerId, `debug-train-${done}`, chunk, { lr: options.lr, readStatsEvery: options.readStatsEvery })));
          gpuBuffers.push(await api.gpuBufferCount());
          done += n;
        }
        const ms = performance.now() - started;
        return { stats, checkpoint: await api.trainerCheckpoint(trainerId), gpuBuffers, ms };
      } finally {
        await api.disposeTrainer(trainerId);
      }
    },
    async runBatches(bytes, batches, cancelAfter) {
      const progress: JobProgress[] = [];
      const controller = new AbortController();
      return withModel(bytes, async (backend, modelId) => {
        try {
          const outputs = await runBatches(backend, modelId, batches, {
            signal: controller.signal,
            onProgress: (p) => {
              progress.push(p);
              if (cancelAfter !== undefined && progress.length >= cancelAfter) controller.abort();
            },
          });
          return { progress, outputs, error: null };
        } catch (err) {
          return { progress, outputs: null, error: errorText(err) };
        }
      });
    },
  };
}

async function withModel<T>(bytes: Uint8Array, use: (backend: Backend, modelId: string) => Promise<T>): Promise<T> {
  const backend = await getBackend();
  const copy = bytes.slice();
  const model = await backend.api.loadModel(Comlink.transfer(copy, [copy.buffer]));
  try {
    return await use(backend, model.id);
  } finally {
    await backend.api.release(model.id);
  }
}
