// Calibration and scan results. The calibration (a few hundred clean scores) persists in local
// storage; scan rows can be tens of thousands, so they are held as columns (ScanTable, not one
// object per image), saved to OPFS, and only a summary persists here.
import { useMemo } from 'react';
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import type { Calibration, CalibrationMethod, HeldOutReport } from '../../core/dede/calibrate';
import type { DatasetRole } from '../../core/images/dataset';
import type { CleanComponentZ } from '../../core/report/scan-report';
import { ScanTable, type ScanRow } from '../../core/workflow/scan-table';
import type { CollapseGate } from '../../core/dede/set-scan';

export type { ScanRow } from '../../core/workflow/scan-table';

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
  /** The clean images' content-score component z's (component p-values in the detail view); absent in saves before the content score. */
  readonly cleanComponentZ?: CleanComponentZ;
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
      /** Each component's share of α (weighted Bonferroni); null in scans saved before it was recorded (store v1). */
      readonly weights: { readonly dede: number; readonly collapse: number } | null;
      /** The collapse gate's decision; null in scans saved before the gate existed (store v1). */
      readonly gate: CollapseGate | null;
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
  /** While a folder's images go through the encoder (before its rows come): progress and time left. */
  readonly embedding?: { readonly folder: string; readonly done: number; readonly total: number; readonly etaSeconds: number | null } | null;
}

export type Tag = 'poisoned' | 'clean';

interface ScanState {
  calibration: CalibrationState | null;
  scan: ScanSummary | null;
  /** The scan's results, one column per field (empty before a scan). */
  table: ScanTable;
  /** Reviewer's verdicts by `${datasetId}:${slot}`. */
  tags: Record<string, Tag>;
  calibrating: { done: number; total: number; phase: 'embed' | 'score'; etaSeconds: number | null } | null;
  setCalibration(c: CalibrationState | null): void;
  setCalibrating(p: ScanState['calibrating']): void;
  setScan(s: ScanSummary | null): void;
  patchScan(p: Partial<ScanSummary>): void;
  setTable(table: ScanTable): void;
  setTag(key: string, tag: Tag | null): void;
}

export const rowKey = (r: Pick<ScanRow, 'datasetId' | 'slot'>): string => `${r.datasetId}:${r.slot}`;

/**
 * Every row as an object, for the Review step's sorting and filtering. Linear in the scan's size:
 * call it while such a view is open (memoised on the table), never keep it in a store.
 */
export function useScanRows(): readonly ScanRow[] {
  const table = useScanStore((s) => s.table);
  return useMemo(() => table.rows(), [table]);
}

/** The saved shape's version. 2: a fused verdict always carries `weights` and `gate` (null when v1 did not record them). */
export const SCAN_STORE_VERSION = 2;

export interface SavedScanState {
  readonly calibration: CalibrationState | null;
  readonly scan: ScanSummary | null;
  readonly tags: Record<string, Tag>;
}

/** Brings a save of any earlier version to the current shape (zustand persist's `migrate`). */
export function migrateScanStore(persisted: unknown, version: number): SavedScanState {
  const p = (persisted ?? {}) as Partial<SavedScanState>;
  let scan = p.scan ?? null;
  if (version < 2 && scan?.verdict?.kind === 'fused') {
    const old = scan.verdict as Omit<Extract<ScanVerdict, { kind: 'fused' }>, 'weights' | 'gate'> & Partial<Pick<Extract<ScanVerdict, { kind: 'fused' }>, 'weights' | 'gate'>>;
    scan = { ...scan, verdict: { ...old, weights: old.weights ?? null, gate: old.gate ?? null } };
  }
  return { calibration: p.calibration ?? null, scan, tags: p.tags ?? {} };
}

export const useScanStore = create<ScanState>()(
  persist(
    (set) => ({
      calibration: null,
      scan: null,
      table: ScanTable.empty('', []),
      tags: {},
      calibrating: null,
      setCalibration: (calibration) => set({ calibration }),
      setCalibrating: (calibrating) => set({ calibrating }),
      setScan: (scan) => set({ scan }),
      patchScan: (p) => set((s) => (s.scan ? { scan: { ...s.scan, ...p } } : {})),
      setTable: (table) => set({ table }),
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
      version: SCAN_STORE_VERSION,
      partialize: (s) => ({ calibration: s.calibration, scan: s.scan, tags: s.tags }),
      migrate: (persisted, version) => migrateScanStore(persisted, version),
      onRehydrateStorage: () => (state) => {
        if (state?.scan?.status === 'scanning') state.patchScan({ status: 'interrupted' });
      },
    },
  ),
);
