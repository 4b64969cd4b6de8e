// The typed contract between the UI and the model worker. Both sides import only this file's types.
import type { EpChoice, GpuAdapterFacts, PlatformFacts } from '../src/core/runtime/ep-choice';
import type { ExternalDataFile, HostTensor } from '../src/core/runtime/session';
import type { Batch, StepStats, TrainCheckpoint, TrainGraph } from '../src/core/train/trainer';

export type Feeds = Readonly<Record<string, HostTensor>>;
export type Fetches = Record<string, HostTensor>;

export interface BackendInfo extends EpChoice {
  readonly adapter: GpuAdapterFacts | null;
  readonly ortVersion: string;
  /** Milliseconds the start-up self-test took (load ORT, build, run, verify a tiny model). */
  readonly selfTestMs: number;
}

export interface LoadedModel {
  readonly id: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

export interface JobProgress {
  readonly done: number;
  readonly total: number;
}

/** Events the worker pushes without being asked (e.g. the GPU went away). */
export type BackendEvent = { readonly kind: 'device-lost'; readonly message: string };

export interface ModelWorkerApi {
  /** Facts for the EP choice: adapter, isolation, cores. Creates no device. */
  probe(): Promise<PlatformFacts>;
  /** Loads ORT for the chosen EP and proves it works on a tiny model; throws when it does not. */
  init(choice: EpChoice, onEvent?: (event: BackendEvent) => void): Promise<BackendInfo>;
  /** The bytes (and external data files) are transferred, not copied. */
  loadModel(bytes: Uint8Array, externalData?: readonly ExternalDataFile[]): Promise<LoadedModel>;
  run(modelId: string, feeds: Feeds): Promise<Fetches>;
  /** Runs the model once per feed set; cancellable between runs through `cancel(jobId)`. */
  runBatches(
    jobId: string,
    modelId: string,
    batches: readonly Feeds[],
    onProgress?: (progress: JobProgress) => void,
  ): Promise<Fetches[]>;
  cancel(jobId: string): void;
  release(modelId: string): Promise<void>;

  /** Creates a trainer for a train-step graph; the graph bytes are transferred. */
  createTrainer(graph: TrainGraph, initial: TrainCheckpoint): Promise<string>;
  /**
   * Runs one optimiser step per batch (cancellable through `cancel(jobId)` between steps). Stats are
   * read every `readStatsEvery` steps and always after the last one.
   */
  trainSteps(
    trainerId: string,
    jobId: string,
    batches: readonly Batch[],
    options: TrainStepsOptions,
    onProgress?: (progress: TrainProgress) => void,
  ): Promise<StepStats[]>;
  trainerCheckpoint(trainerId: string): Promise<TrainCheckpoint>;
  disposeTrainer(trainerId: string): Promise<void>;
  /** Live GPU buffers created through our device (WebGPU only; null on WASM): a leak detector. */
  gpuBufferCount(): number | null;
}

export interface TrainStepsOptions {
  readonly lr: number;
  readonly readStatsEvery: number;
}

export interface TrainProgress {
  readonly done: number;
  readonly total: number;
  readonly stats: StepStats | null;
}

export const CANCELLED_MESSAGE = 'Cancelled by the user.';
