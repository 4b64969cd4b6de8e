// The typed contract between the UI and the model worker. Both sides import only this file's types.
import type { EpChoice, GpuAdapterFacts, PlatformFacts } from '../src/core/runtime/ep-choice';
import type { ExternalDataFile, HostTensor } from '../src/core/runtime/session';
import type { Batch, StepStats, TrainCheckpoint, TrainGraph } from '../src/core/train/trainer';
import type { DatasetLayout } from '../src/core/images/dataset';
import type { Preprocessing } from '../src/core/images/preprocess';
import type { TrainingPlan } from '../src/core/dede/train-loop';
import type { RunProgress, TrainingRunResult } from '../src/core/workflow/training-run';
import type { ImageExplanation, ScoringProgress, ScoringResult } from '../src/core/workflow/scoring';
import type { ScorerSettings } from '../src/core/dede/scorer';
import type { ContentScale } from '../src/core/dede/content-score';
import type { VerdictTable } from '../src/core/workflow/verdict';
import type { RevealRunTarget } from '../src/core/workflow/reveal-run';
import type { EmbeddingReadout } from '../src/core/onnx/readout';

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

export type SimulatedFault = 'device-lost' | 'crash';

/** Jobs a test can hold at their start (window.dedeDebug.holdJobs) to cancel them mid-way. */
export type HoldableJob = 'verdict' | 'reveal' | 'explain';

export interface SessionStats {
  readonly created: number;
  readonly kept: readonly string[];
}

export interface ModelWorkerApi {
  /** Facts for the EP choice: adapter, isolation, cores. Creates no device. */
  probe(): Promise<PlatformFacts>;
  /** Loads ORT for the chosen EP and proves it works on a tiny model; throws when it does not. */
  init(choice: EpChoice, onEvent?: (event: BackendEvent) => void): Promise<BackendInfo>;
  /** The bytes (and external data files) are transferred, not copied. */
  loadModel(bytes: Uint8Array, externalData?: readonly ExternalDataFile[]): Promise<LoadedModel>;
  run(modelId: string, feeds: Feeds): Promise<Fetches>;
  /**
   * Embeds `batch` synthetic images twice with the encoder's runner and readout (the first run
   * compiles kernels); the second is timed. Throws when the embedding is not finite.
   */
  testEncoder(encoder: EncoderFileRef, size: { readonly height: number; readonly width: number }, batch: number): Promise<{ ms: number; dim: number }>;
  /** Runs the model once per feed set; cancellable between runs. */
  runBatches(
    jobId: string,
    modelId: string,
    batches: readonly Feeds[],
    onProgress?: (progress: JobProgress) => void,
  ): Promise<Fetches[]>;
  /**
   * Jobs that take a `jobId` are cancellable: `cancel(jobId)` aborts them, and they reject with a
   * CancelledError (recognised on this side of Comlink with isCancelled, by its name). A training
   * run pauses instead. The client maps an AbortSignal to this (src/app/backend/model-client.ts).
   */
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
  /** ORT sessions this worker has built since it started, and the kept ones (`kind:identity`; docs/ARCHITECTURE.md §3.3). */
  sessionStats(): SessionStats;
  /** Releases every kept session (the next job builds what it needs again). */
  unloadModels(): Promise<void>;

  /**
   * A decoder training run on a stored clean dataset: embeddings (cached), training with
   * checkpoints in OPFS, the decoder file at the end. Cancelling pauses it (resume with `resume`).
   */
  trainRun(jobId: string, spec: TrainRunSpec, onProgress?: (progress: RunProgress) => void): Promise<TrainingRunResult>;
  /** The step of a training run's saved checkpoint, or null when it has none. */
  checkpointStep(runId: string): Promise<number | null>;
  /** Liveness check: a worker that stops answering this is treated as crashed. */
  ping(): 'pong';
  /** Test-only faults (window.dedeDebug): lose the GPU device, or crash the worker. */
  simulateFault(fault: SimulatedFault): void;
  /**
   * Test-only (window.dedeDebug): jobs of this kind wait at their start, cancellable, until
   * `holdJobs(null)`; lets an e2e test cancel a verdict or reveal while it runs.
   */
  holdJobs(job: HoldableJob | null): void;
  /** A workflow file (e.g. the trained decoder) from OPFS, or null. */
  readWorkflowFile(path: string): Promise<Uint8Array | null>;
  /** Scores images of a stored dataset with the trained decoder; results stream through onProgress. */
  scoreDataset(jobId: string, spec: ScoreSpec, onProgress?: (progress: ScoringProgress) => void): Promise<ScoringResult>;
  /** The set-level verdict over scanned folders (decoder score fused with the collapse score), as columns. */
  verdict(jobId: string, spec: VerdictSpec): Promise<VerdictTable>;
  /** Clusters of flagged images with their decoded targets, trigger maps and nearest clean photos. */
  reveal(jobId: string, spec: RevealSpec): Promise<RevealRunTarget[]>;
  /** Reconstructions and error maps of a few images, for the detail view. */
  explain(jobId: string, spec: ExplainSpec): Promise<ImageExplanation[]>;
}

export interface VerdictSpec {
  readonly encoder: EncoderFileRef;
  readonly folders: readonly DatasetRef[];
  readonly decoderScores: readonly number[];
  readonly clean: DatasetRef;
  readonly cleanDecoderScores: readonly number[];
  readonly preprocessing: Preprocessing;
  readonly targetFpr: number;
}

export interface RevealSpec {
  readonly encoder: EncoderFileRef;
  readonly folders: readonly DatasetRef[];
  readonly flagged: readonly number[];
  readonly priority?: readonly number[];
  readonly clean: DatasetRef;
  readonly cleanSlots: readonly number[];
  readonly preprocessing: Preprocessing;
  readonly decoderPath: string;
  /** One label per clean slot (its class folder), for reveal by example. */
  readonly cleanLabels?: readonly (string | null)[];
}

export type ExplainSpec = Omit<ScoreSpec, 'scorer' | 'slots' | 'contentScale'> & { readonly slots: readonly number[] };

export interface ScoreSpec {
  readonly encoder: EncoderFileRef;
  readonly dataset: DatasetRef;
  readonly slots: readonly number[] | null;
  readonly preprocessing: Preprocessing;
  readonly decoderPath: string;
  readonly scorer: ScorerSettings;
  /** The calibration's content scale (scan), or null (calibration: the scale is fitted on the result). */
  readonly contentScale: ContentScale | null;
}

/** Where the worker finds the encoder: its cached file(s) and how to call it. */
export interface EncoderFileRef {
  readonly key: string;
  readonly externalData: readonly { readonly path: string; readonly key: string }[];
  readonly name: string;
  readonly sha256: string;
  readonly inputName: string;
  /** Which output is the embedding and how it is pooled (see EmbeddingReadout). */
  readonly readout: EmbeddingReadout & { readonly reason?: string };
  readonly fixedBatch: number | null;
}

export interface DatasetRef {
  readonly id: string;
  readonly layout: DatasetLayout;
  readonly count: number;
}

export interface TrainRunSpec {
  readonly runId: string;
  readonly encoder: EncoderFileRef;
  readonly dataset: DatasetRef;
  readonly trainSlots: readonly number[];
  readonly preprocessing: Preprocessing;
  readonly plan: TrainingPlan;
  readonly resume: boolean;
  /** Held-back clean slots scored at every epoch end (convergence, docs/ARCHITECTURE.md §8.5). */
  readonly heldBackSlots?: readonly number[];
  /** Folders (the suspect ones) embedded between epochs so the scan finds them cached (§8.6). */
  readonly prefetch?: readonly DatasetRef[];
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
