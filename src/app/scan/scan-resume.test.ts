import { describe, expect, it } from 'vitest';
import { canContinueScan, offersResume } from './scan-resume';
import type { ScanStatus, ScanSummary } from './scan-store';

function scan(patch: Partial<ScanSummary> = {}): ScanSummary {
  return {
    scanId: 's1', status: 'interrupted', startedAt: '2026-01-01T00:00:00Z',
    datasets: [{ id: 'a', name: 'suspect', role: 'suspect', count: 30 }, { id: 'b', name: 'poisoned', role: 'poisoned', count: 10 }],
    done: 12, total: 40, flagged: 2, seconds: 3, decoderSha256: 'd1', threshold: 0.5, error: null,
    ...patch,
  };
}

describe('canContinueScan', () => {
  it('continues an unfinished scan of the same decoder and folders', () => {
    for (const status of ['interrupted', 'cancelled', 'failed', 'scanning'] as ScanStatus[]) expect(canContinueScan(scan({ status }), 'd1', ['a', 'b'])).toBe(true);
  });

  it('starts afresh after a finished scan, another decoder, or other folders (or order)', () => {
    expect(canContinueScan(null, 'd1', ['a', 'b'])).toBe(false);
    expect(canContinueScan(scan({ status: 'done' }), 'd1', ['a', 'b'])).toBe(false);
    expect(canContinueScan(scan(), 'd2', ['a', 'b'])).toBe(false);
    expect(canContinueScan(scan(), 'd1', ['a'])).toBe(false);
    expect(canContinueScan(scan(), 'd1', ['b', 'a'])).toBe(false);
    expect(canContinueScan(scan(), 'd1', ['a', 'b', 'c'])).toBe(false);
  });
});

describe('offersResume', () => {
  it('offers Resume for a stopped scan with rows, including one stopped in its verdict (every row scored)', () => {
    expect(offersResume(scan())).toBe(true);
    expect(offersResume(scan({ status: 'cancelled', done: 40 }))).toBe(true);
    expect(offersResume(scan({ status: 'failed', done: 1 }))).toBe(true);
  });

  it('not while it runs, once done, or with nothing saved', () => {
    expect(offersResume(null)).toBe(false);
    expect(offersResume(scan({ status: 'scanning' }))).toBe(false);
    expect(offersResume(scan({ status: 'done', done: 40 }))).toBe(false);
    expect(offersResume(scan({ status: 'interrupted', done: 0 }))).toBe(false);
  });
});
