import { describe, expect, it } from 'vitest';
import { migrateScanStore, SCAN_STORE_VERSION } from './scan-store';

const summary = {
  scanId: 's1', status: 'done', startedAt: '2026-01-01T00:00:00Z', datasets: [{ id: 'a', name: 'suspect', role: 'suspect', count: 3 }],
  done: 3, total: 3, flagged: 1, seconds: 2, decoderSha256: 'd', threshold: 1.3, error: null,
};

describe('migrateScanStore', () => {
  it('gives a version-1 fused verdict without weights or gate explicit nulls, keeping everything else', () => {
    const saved = { calibration: null, tags: { 'a:1': 'poisoned' }, scan: { ...summary, verdict: { kind: 'fused', targetFpr: 0.05, k: 5, referenceImages: 20 } } };
    expect(migrateScanStore(saved, 1)).toEqual({
      calibration: null,
      tags: { 'a:1': 'poisoned' },
      scan: { ...summary, verdict: { kind: 'fused', targetFpr: 0.05, k: 5, referenceImages: 20, weights: null, gate: null } },
    });
  });

  it('keeps what a version-1 save did record, and leaves decoder verdicts and verdict-less scans alone', () => {
    const weights = { dede: 0.75, collapse: 0.25 };
    const recorded = migrateScanStore({ scan: { ...summary, verdict: { kind: 'fused', targetFpr: 0.05, k: 5, referenceImages: 20, weights } } }, 1);
    expect(recorded.scan!.verdict).toEqual({ kind: 'fused', targetFpr: 0.05, k: 5, referenceImages: 20, weights, gate: null });
    expect(migrateScanStore({ scan: { ...summary, verdict: { kind: 'decoder', note: null } } }, 1).scan!.verdict).toEqual({ kind: 'decoder', note: null });
    expect(migrateScanStore({ scan: summary }, 0)).toEqual({ calibration: null, scan: summary, tags: {} });
    expect(migrateScanStore(undefined, 0)).toEqual({ calibration: null, scan: null, tags: {} });
  });

  it('leaves a current save as it is', () => {
    const current = { calibration: null, tags: {}, scan: { ...summary, verdict: { kind: 'fused', targetFpr: 0.05, k: 5, referenceImages: 20, weights: null, gate: null } } };
    expect(migrateScanStore(current, SCAN_STORE_VERSION)).toEqual(current);
  });
});
