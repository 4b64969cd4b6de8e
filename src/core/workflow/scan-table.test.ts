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

  it("keeps decoderScore's components through appends, verdicts and saves; reads a version-1 save (none) too", () => {
    const c = chunk(0, 0, 3);
    const t = ScanTable.empty('s1', folders).append({ ...c, components: [{ semanticZ: 1, lowPassZ: 2, flipZ: 3, medianPatchError: 0.5 }, { medianPatchError: 0.25 }, {}] });
    expect(t.image(0)).toMatchObject({ semanticZ: 1, lowPassZ: 2, flipZ: 3, medianPatchError: 0.5 });
    expect(t.image(1)).toMatchObject({ medianPatchError: 0.25 });
    expect(t.image(1).semanticZ).toBeUndefined();
    expect(t.image(2)).not.toHaveProperty('medianPatchError');
    const v = t.withVerdict({ score: [1, 2, 3], pValue: [1, 1, 1], flagged: [0, 0, 1], collapseScore: [0, 0, 0], collapsePValue: [1, 1, 1] });
    expect(v.image(0).flipZ).toBe(3);
    expect(ScanTable.decode(v.encode()).rows()).toEqual(v.rows());
    expect(ScanTable.decode(version1(t)).rows()).toEqual(ScanTable.empty('s1', folders).append(c).rows());
  });

  it('streams 20,000 rows in small chunks; the saved form is ~120 B a row', () => {
    let t = ScanTable.empty('s1', folders);
    for (let i = 0; i < 20_000; i += 64) t = t.append(chunk(0, i, 64));
    expect(t.length).toBe(20_032);
    const bytes = t.encode().length;
    expect(bytes).toBeLessThan(20_032 * (95 + 24) + 1000);
    expect(t.column('score').length).toBe(20_032);
  });
});

/** The version-1 layout (before the component columns), written out: header, 7 float64 columns, slot, folder, flagged, paths. */
function version1(t: ScanTable): Uint8Array {
  const n = t.length;
  const header = new TextEncoder().encode(JSON.stringify({ format: 'dede-scan-table', version: 1, id: t.id, folders: t.folders, length: n }));
  const paths = new TextEncoder().encode(Array.from({ length: n }, (_, i) => t.path(i)).join('\0'));
  const pad = (x: number) => (8 - (x % 8)) % 8;
  const headerEnd = 4 + header.length + pad(4 + header.length);
  const columnBytes = n * (2 + 4 + 1 + 8 * 7);
  const out = new Uint8Array(headerEnd + columnBytes + pad(columnBytes) + 4 + paths.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, header.length, true);
  out.set(header, 4);
  let at = headerEnd;
  for (const c of ['score', 'dedeScore', 'pValue', 'decoderScore', 'decoderPValue', 'collapseScore', 'collapsePValue'] as const) {
    out.set(new Uint8Array(Float64Array.from(t.column(c)).buffer), at);
    at += n * 8;
  }
  out.set(new Uint8Array(Int32Array.from({ length: n }, (_, i) => t.slot(i)).buffer), at);
  at += n * 4;
  out.set(new Uint8Array(Uint16Array.from({ length: n }, (_, i) => t.folderIndex(i)).buffer), at);
  at += n * 2;
  out.set(Uint8Array.from({ length: n }, (_, i) => (t.flagged(i) ? 1 : 0)), at);
  at += n + pad(columnBytes);
  view.setUint32(at, paths.length, true);
  out.set(paths, at + 4);
  return out;
}
