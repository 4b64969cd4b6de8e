// The Train step's settings and the current run. The run record persists, so a reload shows where
// training stood and offers to resume from the last checkpoint.
import { create } from 'zustand';
import type { EmbeddingReadout } from '../../core/onnx/readout';
import { persist } from 'zustand/middleware';
import type { LossPoint, TrainingPlan, TrainingResult } from '../../core/dede/train-loop';
import type { HeldBackPoint } from '../../core/dede/convergence';
import type { CollapseGate } from '../../core/dede/set-scan';
import { DEFAULT_TRAINING, stepsPerEpoch } from '../../core/dede/train-loop';
import { decoderTrainingRecord, type DecoderTrainingRecord } from '../../core/report/scan-report';

export type PresetName = 'small' | 'full';

export interface TrainSettings {
  readonly preset: PresetName;
  readonly epochs: number;
  readonly minutes: number;
  readonly batchSize: number;
  readonly maskRatio: number;
  /** Share of each batch trained on the embedding alone (TrainingPlan.blindShare). */
  readonly blindShare: number;
  readonly lr: number;
  readonly seed: number;
  /** Share of the clean images held back for calibration. */
  readonly holdOut: number;
  /** Decoder patch size in pixels; null = chosen from the image size (4 at 32 px). */
  readonly patchSize: number | null;
  /** Picture size the decoder learns at when the images are larger (32 or 64); null = the default. */
  readonly decoderSize: number | null;
  /** Stop once the held-back loss has stopped moving (docs/ARCHITECTURE.md §8.5); the epochs stay the ceiling. */
  readonly stopWhenConverged: boolean;
}

export const DEFAULT_SETTINGS: TrainSettings = {
  preset: 'small',
  epochs: DEFAULT_TRAINING.epochs ?? 50,
  minutes: DEFAULT_TRAINING.minutes ?? 10,
  batchSize: DEFAULT_TRAINING.batchSize,
  maskRatio: DEFAULT_TRAINING.maskRatio,
  blindShare: DEFAULT_TRAINING.blindShare,
  lr: DEFAULT_TRAINING.lr,
  seed: DEFAULT_TRAINING.seed,
  holdOut: 0.25,
  patchSize: null,
  decoderSize: null,
  stopWhenConverged: true,
};

export type RunStatus = 'embedding' | 'training' | 'paused' | 'interrupted' | 'done' | 'failed';

export interface TrainRun {
  readonly runId: string;
  readonly status: RunStatus;
  readonly datasetId: string;
  readonly datasetName: string;
  readonly encoderSha256: string;
  /** The embedding readout the decoder learns from (absent in runs saved before readouts, and for imported decoders that do not record it). */
  readonly readout?: EmbeddingReadout;
  readonly plan: TrainingPlan;
  readonly trainSlots: readonly number[];
  readonly heldOutSlots: readonly number[];
  readonly step: number;
  readonly totalSteps: number | null;
  readonly losses: readonly LossPoint[];
  readonly elapsedSeconds: number;
  readonly decoderPath: string | null;
  readonly error: string | null;
  readonly startedAt: string;
  /** A decoder imported from a file rather than trained here. */
  readonly imported: boolean;
  /** The held-back images' loss at each epoch end (§8.5). */
  readonly heldBack: readonly HeldBackPoint[];
  /** Why the finished run stopped (null while it runs, and for imported decoders). */
  readonly stoppedBy: TrainingResult['stoppedBy'] | null;
  readonly convergedAt: number | null;
}

/** How a finished run's training ended, for the scan report; null while it runs and for imported decoders. */
export function runTrainingRecord(run: TrainRun): DecoderTrainingRecord | null {
  if (run.imported || run.stoppedBy === null) return null;
  const perEpoch = stepsPerEpoch(run.trainSlots.length, run.plan.batchSize);
  return decoderTrainingRecord({
    steps: run.step,
    ...(perEpoch > 0 ? { epochs: run.step / perEpoch } : {}),
    stoppedBy: run.stoppedBy,
    ...(run.convergedAt !== null ? { convergedAtEpoch: run.convergedAt } : {}),
    ...(run.heldBack.length > 0 ? { heldBackLoss: run.heldBack.at(-1)!.loss } : {}),
  });
}

export interface LiveProgress {
  readonly phase: 'embed' | 'train';
  readonly done: number;
  readonly total: number | null;
  readonly imagesPerSecond: number | null;
  readonly etaSeconds: number | null;
  readonly stepsPerSecond: number | null;
}

/** The scan's folders embedded between epochs of the current run (§8.6); not saved. */
export interface PrefetchState {
  /** Images of the folder being embedded, done and in all. */
  readonly done: number;
  readonly total: number;
  /** Folders finished and in all. */
  readonly finished: number;
  readonly folders: number;
  /** The verdict's collapse gate on those folders, once all are embedded (when affordable). */
  readonly gate?: CollapseGate;
}

/** The suspect folders' embeddings made between epochs (§8.6), in words. */
export function prefetchText(p: PrefetchState): string {
  const folders = `${p.finished} of ${p.folders} folder${p.folders === 1 ? '' : 's'} embedded while training`;
  return p.finished === p.folders ? `${folders}: the scan finds their embeddings ready` : `${folders}; ${p.done} of ${p.total} images of the next`;
}

interface TrainState {
  settings: TrainSettings;
  run: TrainRun | null;
  live: LiveProgress | null;
  prefetch: PrefetchState | null;
  setSettings(patch: Partial<TrainSettings>): void;
  setRun(run: TrainRun | null): void;
  patchRun(patch: Partial<TrainRun>): void;
  setLive(live: LiveProgress | null): void;
  setPrefetch(prefetch: PrefetchState | null): void;
}

/**
 * The saved shape's version. 2: every setting present (v1 saves lack those added since, e.g.
 * blindShare, patchSize, decoderSize) and every run's plan records its blind share. 3: the
 * convergence setting, and every run's held-back points and why it stopped.
 */
export const TRAIN_STORE_VERSION = 3;

export interface SavedTrainState {
  readonly settings: TrainSettings;
  readonly run: TrainRun | null;
}

/** Brings a save of any earlier version to the current shape (zustand persist's `migrate`). */
export function migrateTrainStore(persisted: unknown, version: number): SavedTrainState {
  const p = (persisted ?? {}) as { settings?: Partial<TrainSettings>; run?: (Omit<TrainRun, 'plan'> & { plan: Omit<TrainingPlan, 'blindShare'> & { blindShare?: number } }) | null };
  let run: TrainRun | null = (p.run as TrainRun | null | undefined) ?? null;
  let settings = p.settings as TrainSettings;
  if (version < 2) {
    settings = { ...DEFAULT_SETTINGS, ...p.settings };
    // A run saved before blind rows existed was trained without them.
    run = p.run ? { ...p.run, plan: { ...p.run.plan, blindShare: p.run.plan.blindShare ?? 0 } } : null;
  }
  if (version < 3) {
    // Runs saved before held-back tracking trained their fixed epochs; new runs stop when converged.
    settings = { ...settings, stopWhenConverged: true };
    run = run ? { ...run, heldBack: [], stoppedBy: run.status === 'done' ? 'epochs' : null, convergedAt: null } : null;
  }
  return { settings, run };
}

export const useTrainStore = create<TrainState>()(
  persist(
    (set) => ({
      settings: DEFAULT_SETTINGS,
      run: null,
      live: null,
      prefetch: null,
      setSettings: (patch) => set((s) => ({ settings: { ...s.settings, ...patch } })),
      setRun: (run) => set({ run }),
      patchRun: (patch) => set((s) => (s.run ? { run: { ...s.run, ...patch } } : {})),
      setLive: (live) => set({ live }),
      setPrefetch: (prefetch) => set({ prefetch }),
    }),
    {
      name: 'dede-web/train',
      version: TRAIN_STORE_VERSION,
      partialize: (s) => ({ settings: s.settings, run: s.run }),
      migrate: (persisted, version) => migrateTrainStore(persisted, version),
      // A run that was active when the page went away is interrupted: its checkpoint can resume it.
      onRehydrateStorage: () => (state) => {
        if (state?.run && (state.run.status === 'embedding' || state.run.status === 'training')) {
          state.patchRun({ status: 'interrupted' });
        }
      },
    },
  ),
);
