// Review settings: the reviewer's threshold (per scan; null = the calibrated τ the scan used),
// sort, filters, label mode and heatmap opacity. Tags live in the scan store.
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import type { RevealedCluster } from './reveal-text';
import { NO_FILTERS, type NegativesMode, type ReviewFilters, type SortKey } from './review-model';

export interface TriggerMap {
  readonly scanId: string;
  readonly threshold: number;
  readonly side: number;
  /** [side, side]: mean per-pixel error of flagged images minus that of unflagged ones. */
  readonly diff: Float32Array;
  readonly flaggedMean: Float32Array;
  readonly unflaggedMean: Float32Array;
  readonly flaggedN: number;
  readonly unflaggedN: number;
}

/** Clusters revealed for one scan at one threshold (the report shows them while both still hold). */
export interface RevealedClusters {
  readonly scanId: string;
  readonly threshold: number;
  readonly clusters: readonly RevealedCluster[];
}

interface ReviewState {
  /** The reviewer's threshold, valid for one scan only. */
  threshold: { scanId: string; value: number } | null;
  sort: SortKey;
  filters: ReviewFilters;
  negatives: NegativesMode;
  opacity: number;
  triggerMap: TriggerMap | null;
  clusters: RevealedClusters | null;
  setThreshold(scanId: string, value: number | null): void;
  setSort(sort: SortKey): void;
  setFilters(patch: Partial<ReviewFilters>): void;
  resetFilters(): void;
  setNegatives(mode: NegativesMode): void;
  setOpacity(opacity: number): void;
  setTriggerMap(map: TriggerMap | null): void;
  setClusters(clusters: RevealedClusters | null): void;
}

export const useReviewStore = create<ReviewState>()(
  persist(
    (set) => ({
      threshold: null,
      sort: 'score-desc',
      filters: NO_FILTERS,
      negatives: 'suspect',
      opacity: 0.6,
      triggerMap: null,
      clusters: null,
      setThreshold: (scanId, value) => set({ threshold: value === null ? null : { scanId, value } }),
      setSort: (sort) => set({ sort }),
      setFilters: (patch) => set((s) => ({ filters: { ...s.filters, ...patch } })),
      resetFilters: () => set({ filters: NO_FILTERS }),
      setNegatives: (negatives) => set({ negatives }),
      setOpacity: (opacity) => set({ opacity }),
      setTriggerMap: (triggerMap) => set({ triggerMap }),
      setClusters: (clusters) => set({ clusters }),
    }),
    {
      name: 'dede-web/review',
      version: 1,
      partialize: (s) => ({ threshold: s.threshold, sort: s.sort, filters: s.filters, negatives: s.negatives, opacity: s.opacity }),
    },
  ),
);

/** The threshold review and reports apply: the reviewer's for this scan, else the scan's calibrated τ. */
export function effectiveThreshold(scan: { scanId: string; threshold: number } | null, review: ReviewState['threshold']): number | null {
  if (!scan) return null;
  return review && review.scanId === scan.scanId ? review.value : scan.threshold;
}

export function useEffectiveThreshold(scan: { scanId: string; threshold: number } | null): number | null {
  const review = useReviewStore((s) => s.threshold);
  return effectiveThreshold(scan, review);
}
