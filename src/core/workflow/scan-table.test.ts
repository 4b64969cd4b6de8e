import { describe, expect, it } from 'vitest';
import { ScanTable, type ScanChunk } from './scan-table';

const folders = [
  { id: 'a', name: 'suspect', role: 'suspect' as const },
  { id: 'b', name: 'poison', role: 'poisoned' as const },
];

function chunk(folder: number, from: number, n: number): ScanChunk {
  const slots = Array.from({ length: n }, (_, i) => from + i);
  return {
    folder,
    slots,
    paths: slots.map((s) => `${folders[folder]!.name}/img ${s}.png`),
    scores: slots.map((s) => s * 0.5 + folder),
    dedeScores: slots.map((s) => s * 2),
    pValues: slots.map((s) => 1 / (s + 2)),
    flagged: slots.map((s) => s % 3 === 0),
  };
}

describe('ScanTable', () => {
  it('appends chunks into columns and gives back the rows the scan streamed', () => {
    let t = ScanTable.empty('s1', folders);
    t = t.append(chunk(0, 0, 300)).append(chunk(1, 0, 5)).append(chunk(0, 300, 1));
    expect(t.length).toBe(306);
    expect(t.row(0)).toEqual({ datasetId: 'a', datasetName: 'suspect', role: 'suspect', slot: 0, path: 'suspect/img 0.png', score: 0, dedeScore: 0, pValue: 0.5, flagged: true, decoderScore: 0, decoderPValue: 0.5 });
    expect(t.row(302)).toMatchObject({ datasetId: 'b', role: 'poisoned', slot: 2, score: 2, flagged: false });
    expect(t.row(305)).toMatchObject({ datasetId: 'a', slot: 300, path: 'suspect/img 300.png' });
    expect(t.indexOf('b', 4)).toBe(304);
    expect(t.indexOf('c', 0)).toBe(-1);
    expect(() => t.row(306)).toThrow(/outside the 306/);
  });

  it('keeps earlier tables valid when a later one appends (shared, growing storage)', () => {
    const first = ScanTable.empty('s1', folders).append(chunk(0, 0, 10));
    const second = first.append(chunk(0, 10, 10));
    // Appending to `first` again must not overwrite rows 10.. of `second`.
    const branch = first.append(chunk(1, 0, 10));
    expect(first.length).toBe(10);
    expect(second.row(15)).toMatchObject({ datasetId: 'a', slot: 15 });
    expect(branch.row(15)).toMatchObject({ datasetId: 'b', slot: 5 });
    expect(second.rows().map((r) => r.slot)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('reorders rows and replaces the verdict columns without touching the decoder components', () => {
    const t = ScanTable.empty('s1', folders).append(chunk(1, 0, 3)).append(chunk(0, 0, 3));
    const sorted = t.permuted([3, 4, 5, 0, 1, 2]);
    expect(sorted.rows().map((r) => `${r.datasetId}${r.slot}`)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
    const v = sorted.withVerdict({ score: [9, 8, 7, 6, 5, 4], pValue: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], flagged: [true, false, false, false, false, true], collapseScore: [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], collapsePValue: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06] });
    expect(v.row(5)).toEqual({ datasetId: 'b', datasetName: 'poison', role: 'poisoned', slot: 2, path: 'poison/img 2.png', score: 4, dedeScore: 4, pValue: 0.6, flagged: true, decoderScore: 2, decoderPValue: 0.25, collapseScore: 0.4, collapsePValue: 0.06 });
    expect(sorted.row(5).score).toBe(2);
    // Appending after a verdict copies rather than writing into the verdict's columns.
    const more = v.append(chunk(0, 3, 1));
    expect(more.row(6)).toMatchObject({ slot: 3, score: 1.5 });
    expect(v.length).toBe(6);
    expect(() => v.withVerdict({ score: [1], pValue: [1], flagged: [true], collapseScore: [1], collapsePValue: [1] })).toThrow(/6 rows/);
  });

  it('round-trips through its binary form, and rejects damaged bytes with a readable error', () => {
    const t = ScanTable.empty('s1', folders).append(chunk(0, 0, 7)).append(chunk(1, 0, 2));
    const v = t.withVerdict({ score: t.column('score'), pValue: t.column('pValue'), flagged: Array.from({ length: 9 }, (_, i) => i === 8), collapseScore: Array.from({ length: 9 }, (_, i) => i / 10), collapsePValue: Array.from({ length: 9 }, () => 0.5) });
    for (const table of [t, v, ScanTable.empty('s1', folders)]) {
      const back = ScanTable.decode(table.encode());
      expect(back.folders).toEqual(folders);
      expect(back.id).toBe('s1');
      expect(back.rows()).toEqual(table.rows());
    }
    const bytes = v.encode();
    expect(() => ScanTable.decode(bytes.subarray(0, bytes.length - 3))).toThrow(/unreadable.*scan again/);
    expect(() => ScanTable.decode(new TextEncoder().encode('{"rows":[]}'))).toThrow(/unreadable/);
  });

  it('streams 20,000 rows in small chunks; the saved form is ~90 B a row', () => {
    let t = ScanTable.empty('s1', folders);
    for (let i = 0; i < 20_000; i += 64) t = t.append(chunk(0, i, 64));
    expect(t.length).toBe(20_032);
    const bytes = t.encode().length;
    expect(bytes).toBeLessThan(20_032 * (63 + 24) + 1000);
    expect(t.column('score').length).toBe(20_032);
  });
});
