import { describe, expect, it } from 'vitest';
import type { ScanRow, Tag } from '../scan/scan-store';
import { ScanTable } from '../../core/workflow/scan-table';
import { byIndex, countFlagged, countScoresAbove, evaluationLabel, evaluationSet, filterRows, folderCounts, NO_FILTERS, reflag, sortRows, thresholdStep } from './review-model';
import { effectiveThreshold } from './review-store';

function row(i: number, score: number, role: ScanRow['role'] = 'suspect', datasetId = 'd1'): ScanRow {
  return { datasetId, datasetName: datasetId, role, slot: i, path: `${datasetId}/img-${i}.png`, score, dedeScore: score * 10, pValue: 1 - score, flagged: score > 0.5 };
}

const rows = [row(0, 0.1), row(1, 0.9), row(2, 0.5), row(3, 0.7, 'poisoned', 'd2'), row(4, 0.3)];

describe('review threshold', () => {
  it('re-flags rows strictly above τ and counts them', () => {
    expect(countFlagged(rows, 0.5)).toBe(2);
    expect(countFlagged(rows, 0.45)).toBe(3);
    expect(countFlagged(rows, 1)).toBe(0);
    const r = reflag(rows, 0.2);
    expect(r.map((x) => x.flagged)).toEqual([false, true, true, true, true]);
    // Unchanged rows keep their identity (cheap re-renders).
    expect(r[1]).toBe(rows[1]);
    expect(reflag(rows, 0.5).every((x, i) => x === rows[i])).toBe(true);
  });
  it('uses the reviewer threshold only for the scan it was set on', () => {
    const scan = { scanId: 's1', threshold: 0.5 };
    expect(effectiveThreshold(scan, null)).toBe(0.5);
    expect(effectiveThreshold(scan, { scanId: 's1', value: 0.3 })).toBe(0.3);
    expect(effectiveThreshold(scan, { scanId: 'old', value: 0.3 })).toBe(0.5);
    expect(effectiveThreshold(null, { scanId: 's1', value: 0.3 })).toBeNull();
  });
  it('steps the keyboard slider by a fraction of the range', () => {
    expect(thresholdStep(0, 2, false)).toBeCloseTo(0.01);
    expect(thresholdStep(0, 2, true)).toBeCloseTo(0.1);
    expect(thresholdStep(1, 1, false)).toBeGreaterThan(0);
  });
});

describe('rows by index', () => {
  it('gives the same evaluation set, folder counts and flagged count from a ScanTable as from its rows', () => {
    const folders = [...new Map(rows.map((r) => [r.datasetId, { id: r.datasetId, name: r.datasetName, role: r.role }])).values()];
    let t = ScanTable.empty('s', folders);
    for (const r of rows) t = t.append({ folder: folders.findIndex((f) => f.id === r.datasetId), slots: [r.slot], paths: [r.path], scores: [r.score], dedeScores: [r.dedeScore], pValues: [r.pValue], flagged: [r.flagged] });
    const tags: Record<string, Tag> = { 'd1:4': 'poisoned', 'd2:3': 'clean' };
    for (const mode of ['suspect', 'tagged'] as const) {
      expect(evaluationSet(t, tags, mode)).toEqual(evaluationSet(rows, tags, mode));
      expect(evaluationSet(t, {}, mode)).toEqual(evaluationSet(rows, {}, mode));
    }
    expect(evaluationSet(t, tags, 'tagged').labels).toEqual([false, true]);
    expect(folderCounts(t, 0.5)).toEqual(folderCounts(byIndex(rows), 0.5));
    expect([...folderCounts(t, 0.5).values()]).toEqual([{ name: 'd1', role: 'suspect', count: 4, flagged: 1 }, { name: 'd2', role: 'poisoned', count: 1, flagged: 1 }]);
    expect(countScoresAbove(t.column('score'), 0.5)).toBe(countFlagged(rows, 0.5));
  });
});

describe('sort and filter', () => {
  it('sorts by score both ways, p-value and path', () => {
    expect(sortRows(rows, 'score-desc').map((r) => r.slot)).toEqual([1, 3, 2, 4, 0]);
    expect(sortRows(rows, 'score-asc').map((r) => r.slot)).toEqual([0, 4, 2, 3, 1]);
    expect(sortRows(rows, 'pvalue-asc').map((r) => r.slot)).toEqual([1, 3, 2, 4, 0]);
    expect(sortRows(rows, 'path-asc')[4]!.datasetId).toBe('d2');
    expect(rows.map((r) => r.slot)).toEqual([0, 1, 2, 3, 4]); // input untouched
  });
  it('filters by flag at the review τ, score range, folder and tag', () => {
    const tags: Record<string, Tag> = { 'd1:0': 'clean', 'd1:1': 'poisoned' };
    expect(filterRows(rows, { ...NO_FILTERS, flaggedOnly: true }, 0.6, {}).map((r) => r.slot)).toEqual([1, 3]);
    expect(filterRows(rows, { ...NO_FILTERS, minScore: 0.3, maxScore: 0.7 }, 0.5, {}).map((r) => r.slot)).toEqual([2, 3, 4]);
    expect(filterRows(rows, { ...NO_FILTERS, folder: 'd2' }, 0.5, {}).map((r) => r.slot)).toEqual([3]);
    expect(filterRows(rows, { ...NO_FILTERS, tag: 'poisoned' }, 0.5, tags).map((r) => r.slot)).toEqual([1]);
    expect(filterRows(rows, { ...NO_FILTERS, tag: 'untagged' }, 0.5, tags).map((r) => r.slot)).toEqual([2, 3, 4]);
  });
});

describe('evaluation labels', () => {
  it('known-poisoned folders are positives; tags override the folder', () => {
    expect(evaluationLabel(row(0, 0, 'poisoned'), undefined, 'suspect')).toBe(true);
    expect(evaluationLabel(row(0, 0, 'suspect'), undefined, 'suspect')).toBe(false);
    expect(evaluationLabel(row(0, 0, 'suspect'), undefined, 'tagged')).toBeNull();
    expect(evaluationLabel(row(0, 0, 'suspect'), 'poisoned', 'tagged')).toBe(true);
    expect(evaluationLabel(row(0, 0, 'poisoned'), 'clean', 'suspect')).toBe(false);
  });
  it('builds the labelled set', () => {
    const s = evaluationSet(rows, { 'd1:4': 'poisoned' }, 'suspect');
    expect([s.positives, s.negatives, s.hasPoisonedFolder]).toEqual([2, 3, true]);
    const t = evaluationSet(rows, { 'd1:0': 'clean' }, 'tagged');
    expect([t.positives, t.negatives]).toEqual([1, 1]);
    expect([...t.scores]).toEqual([0.1, 0.7]);
  });
});
