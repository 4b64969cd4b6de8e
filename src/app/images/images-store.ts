// The image datasets. Summaries (role, counts, the first errors and duplicates) persist in
// localStorage; pixels and per-image entries live in chunk files (see core/workflow/dataset-storage.ts).
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import {
  DEFAULT_WORKING_SIZE,
  type DatasetCounts,
  type DatasetLayout,
  type DatasetRole,
  type DatasetStatus,
  type DuplicateGroup,
  type FitMode,
  type UnreadableFile,
} from '../../core/images/dataset';
import type { ResizePlan } from '../../core/images/resize-plan';

/** Lists kept in the summary (and the manifest) are cut at LIST_CAP; the counts are complete. */
export { LIST_CAP } from '../../core/images/dataset';

export interface DatasetSummary {
  readonly id: string;
  readonly name: string;
  readonly role: DatasetRole;
  readonly status: DatasetStatus;
  readonly layout: DatasetLayout;
  readonly fit: FitMode;
  /** The encoder resize plan the photos went through (its description); absent or null: `fit`. */
  readonly resize?: string | null;
  readonly counts: DatasetCounts;
  readonly chunks: number;
  readonly unreadable: readonly UnreadableFile[];
  readonly duplicates: readonly DuplicateGroup[];
  readonly mismatched: readonly { readonly path: string; readonly note: string }[];
  readonly persistent: boolean;
  readonly createdAt: string;
  readonly loadSeconds: number | null;
  readonly error: string | null;
}

export interface LoadProgress {
  readonly done: number;
  readonly total: number;
  readonly imagesPerSecond: number;
  readonly etaSeconds: number | null;
}

interface ImagesState {
  datasets: DatasetSummary[];
  workingSize: number;
  fit: FitMode;
  /**
   * The loaded encoder's resize plan (not persisted: it follows the encoder). Folders added while its
   * output size is the working size go through it instead of `fit`.
   */
  resizePlan: ResizePlan | null;
  /** Live progress of loading datasets (not persisted). */
  progress: Record<string, LoadProgress>;
  upsert(summary: DatasetSummary): void;
  patch(id: string, patch: Partial<DatasetSummary>): void;
  remove(id: string): void;
  setRole(id: string, role: DatasetRole): void;
  setProgress(id: string, progress: LoadProgress | null): void;
  setWorkingSize(size: number): void;
  setFit(fit: FitMode): void;
  setResizePlan(plan: ResizePlan | null): void;
}

export const useImagesStore = create<ImagesState>()(
  persist(
    (set) => ({
      datasets: [],
      workingSize: DEFAULT_WORKING_SIZE,
      fit: 'crop',
      resizePlan: null,
      progress: {},
      upsert: (summary) =>
        set((s) => ({
          datasets: s.datasets.some((d) => d.id === summary.id) ? s.datasets.map((d) => (d.id === summary.id ? summary : d)) : [...s.datasets, summary],
        })),
      patch: (id, patch) => set((s) => ({ datasets: s.datasets.map((d) => (d.id === id ? { ...d, ...patch } : d)) })),
      remove: (id) =>
        set((s) => {
          const { [id]: _gone, ...progress } = s.progress;
          return { datasets: s.datasets.filter((d) => d.id !== id), progress };
        }),
      setRole: (id, role) => set((s) => ({ datasets: s.datasets.map((d) => (d.id === id ? { ...d, role } : d)) })),
      setProgress: (id, p) =>
        set((s) => {
          const { [id]: _old, ...rest } = s.progress;
          return { progress: p ? { ...rest, [id]: p } : rest };
        }),
      setWorkingSize: (workingSize) => set({ workingSize }),
      setFit: (fit) => set({ fit }),
      setResizePlan: (resizePlan) => set({ resizePlan }),
    }),
    {
      name: 'dede-web/images',
      version: 1,
      partialize: (s) => ({ datasets: s.datasets, workingSize: s.workingSize, fit: s.fit }),
      // A load cut short by a reload cannot go on: the browser no longer lets us read those files.
      // (Through the state's own setter: hydration runs before `useImagesStore` is assigned.)
      onRehydrateStorage: () => (state) => {
        for (const d of state?.datasets ?? []) if (d.status === 'loading') state!.upsert(interruptLoad(d));
      },
    },
  ),
);

/** A folder still loading when the page went away, marked interrupted (its files cannot be read again). */
/** The folders a scan judges: the ready suspect and known-poisoned ones. */
export function scanFolders(datasets: readonly DatasetSummary[]): DatasetSummary[] {
  return datasets.filter((d) => (d.role === 'suspect' || d.role === 'poisoned') && d.status === 'ready');
}

export function interruptLoad(d: DatasetSummary): DatasetSummary {
  return d.status === 'loading'
    ? { ...d, status: 'interrupted', error: 'Loading stopped when the page was closed or reloaded; add the folder again to finish it.' }
    : d;
}
