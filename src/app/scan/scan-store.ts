// Calibration and scan results. The calibration (a few hundred clean scores) persists in local
// storage; scan rows can be tens of thousands, so they live in OPFS and only a summary persists.
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import type { Calibration, CalibrationMethod, HeldOutReport } from '../../core/dede/calibrate';
import type { DatasetRole } from '../../core/images/dataset';
import type { ScannedImage } from '../../core/report/scan-report';

export interface CalibrationState {
  readonly runId: string;
  readonly decoderSha256: string;
  readonly datasetName: string;
  readonly slots: readonly number[];
  readonly cleanScores: readonly number[];
  readonly method: CalibrationMethod;
  readonly calibration: Calibration;
  /** Realised FPR on a kept-aside part; null when too few clean scores to split. */
  readonly heldOut: HeldOutReport | null;
  readonly scoredAt: string;
}

/** A scanned image as the report describes it, plus where it is stored. */
export interface ScanRow extends ScannedImage {
  readonly datasetId: string;
  readonly datasetName: string;
  readonly role: DatasetRole;
  readonly slot: number;
}

/**
 * How rows were judged: by the decoder score against the calibrated τ, or by the fused verdict
 * (decoder and collapse p-values combined; `score` is then −log10 of the combined p-value).
 */
export type ScanVerdict =
  | { readonly kind: 'decoder'; readonly note: string | null }
  | {
      readonly kind: 'fused';
      readonly targetFpr: number;
      readonly k: number;
      readonly referenceImages: number;
      /** Each component's share of α (weighted Bonferroni); absent in scans saved before it was recorded. */
      readonly weights?: { readonly dede: number; readonly collapse: number } | null;
    };

export type ScanStatus = 'scanning' | 'done' | 'cancelled' | 'failed' | 'interrupted';

export interface ScanSummary {
  readonly scanId: string;
  readonly status: ScanStatus;
  readonly startedAt: string;
  readonly datasets: readonly { readonly id: string; readonly name: string; readonly role: DatasetRole; readonly count: number }[];
  readonly done: number;
  readonly total: number;
  readonly flagged: number;
  readonly seconds: number;
  readonly decoderSha256: string;
  readonly threshold: number;
  readonly error: string | null;
  readonly verdict?: ScanVerdict;
  /** Rows already in OPFS while the scan runs: what a reload mid-scan keeps. */
  readonly savedRows?: number;
}

export type Tag = 'poisoned' | 'clean';

interface ScanState {
  calibration: CalibrationState | null;
  scan: ScanSummary | null;
  rows: ScanRow[];
  /** Reviewer's verdicts by `${datasetId}:${slot}`. */
  tags: Record<string, Tag>;
  calibrating: { done: number; total: number; phase: 'embed' | 'score' } | null;
  setCalibration(c: CalibrationState | null): void;
  setCalibrating(p: ScanState['calibrating']): void;
  setScan(s: ScanSummary | null): void;
  patchScan(p: Partial<ScanSummary>): void;
  setRows(rows: ScanRow[]): void;
  appendRows(rows: readonly ScanRow[]): void;
  setTag(key: string, tag: Tag | null): void;
}

export const rowKey = (r: Pick<ScanRow, 'datasetId' | 'slot'>): string => `${r.datasetId}:${r.slot}`;

export const useScanStore = create<ScanState>()(
  persist(
    (set) => ({
      calibration: null,
      scan: null,
      rows: [],
      tags: {},
      calibrating: null,
      setCalibration: (calibration) => set({ calibration }),
      setCalibrating: (calibrating) => set({ calibrating }),
      setScan: (scan) => set({ scan }),
      patchScan: (p) => set((s) => (s.scan ? { scan: { ...s.scan, ...p } } : {})),
      setRows: (rows) => set({ rows }),
      appendRows: (rows) => set((s) => ({ rows: [...s.rows, ...rows] })),
      setTag: (key, tag) =>
        set((s) => {
          const tags = { ...s.tags };
          if (tag) tags[key] = tag;
          else delete tags[key];
          return { tags };
        }),
    }),
    {
      name: 'dede-web/scan',
      version: 1,
      partialize: (s) => ({ calibration: s.calibration, scan: s.scan, tags: s.tags }),
      onRehydrateStorage: () => (state) => {
        if (state?.scan?.status === 'scanning') state.patchScan({ status: 'interrupted' });
      },
    },
  ),
);
