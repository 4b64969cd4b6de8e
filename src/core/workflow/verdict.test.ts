import { describe, expect, it } from 'vitest';
import type { FolderSetResult } from '../dede/set-scan';
import { verdictTable } from './verdict';

describe('verdictTable', () => {
  it('gives the per-image verdict as typed columns in image order', () => {
    const images = [0, 1, 2].map((i) => ({ score: i + 0.5, fusedP: 0.1 * i, dedeScore: 9, dedePValue: 0.3, collapseScore: 0.9 - i / 10, collapsePValue: 0.01 * (i + 1), flagged: i !== 1 }));
    const result: FolderSetResult = { images, targetFpr: 0.05, fusion: 'bonferroni', weights: null, gate: { k: 3, level: 0.15, floorHits: 2, needed: 4, open: false }, k: 5, cleanDedeCount: 30, cleanCollapseCount: 40, flaggedCount: 2 };
    const t = verdictTable(result);
    expect(Array.from(t.score)).toEqual([0.5, 1.5, 2.5]);
    expect(Array.from(t.fusedP)).toEqual([0, 0.1, 0.2]);
    expect(Array.from(t.collapseScore)).toEqual([0.9, 0.8, 0.7]);
    expect(Array.from(t.collapsePValue)).toEqual([0.01, 0.02, 0.03]);
    expect(Array.from(t.flagged)).toEqual([1, 0, 1]);
    expect(t).toMatchObject({ targetFpr: 0.05, k: 5, cleanCollapseCount: 40, gate: { floorHits: 2, needed: 4, open: false } });
  });
});
