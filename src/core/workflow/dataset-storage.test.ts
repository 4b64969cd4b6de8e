import { describe, expect, it } from 'vitest';
import type { DatasetLayout, ImageEntry } from '../images/dataset';
import { ChunkedDatasetStorage } from './dataset-storage';
import { MemoryFileStore } from './files';

// 2×2 images, 3 per chunk, thumbnails kept apart so both files are exercised.
const LAYOUT: DatasetLayout = { size: 2, imagesPerChunk: 3, thumbSize: 1, separateThumbs: true };
const PER = 2 * 2 * 3;
const entry = (slot: number): ImageEntry => ({ slot, path: `set/${slot}.png`, bytes: 10, format: 'png', width: 2, height: 2, sha256: String(slot), duplicateOf: null, note: null });

/** Image `slot` is PER bytes all equal to slot + 1; its thumbnail is 3 bytes equal to 100 + slot. */
function chunk(index: number, slots: number[]) {
  const pixels = new Uint8Array(slots.length * PER);
  const thumbs = new Uint8Array(slots.length * 3);
  slots.forEach((s, i) => {
    pixels.fill(s + 1, i * PER, (i + 1) * PER);
    thumbs.fill(100 + s, i * 3, (i + 1) * 3);
  });
  return { chunk: index, pixels, thumbs, entries: slots.map(entry) };
}

describe('ChunkedDatasetStorage', () => {
  it('reads a pixel range across chunk boundaries from files under the dataset folder', async () => {
    const files = new MemoryFileStore();
    const store = new ChunkedDatasetStorage(files, false);
    await store.writeChunk('ds1', chunk(0, [0, 1, 2]));
    await store.writeChunk('ds1', chunk(1, [3, 4]));
    expect(files.paths()).toEqual(['ds1/chunk-00000.json', 'ds1/chunk-00000.rgb', 'ds1/chunk-00001.json', 'ds1/chunk-00001.rgb', 'ds1/thumb-00000.rgb', 'ds1/thumb-00001.rgb'].sort());
    const px = await store.readPixels('ds1', LAYOUT, 1, 3); // slots 1, 2 | 3
    expect(Array.from(px.subarray(0, PER))).toEqual(Array(PER).fill(2));
    expect(Array.from(px.subarray(PER, 2 * PER))).toEqual(Array(PER).fill(3));
    expect(Array.from(px.subarray(2 * PER))).toEqual(Array(PER).fill(4));
    expect(Array.from(await store.readThumbs('ds1', LAYOUT, 2, 2))).toEqual([102, 102, 102, 103, 103, 103]);
    expect(await store.readEntries('ds1', 1)).toEqual([entry(3), entry(4)]);
  });

  it('says which images are missing, and forgets a removed dataset only', async () => {
    const files = new MemoryFileStore();
    const store = new ChunkedDatasetStorage(files, false);
    await store.writeChunk('ds1', chunk(0, [0, 1, 2]));
    await store.writeChunk('ds2', chunk(0, [0]));
    await expect(store.readPixels('ds1', LAYOUT, 2, 2)).rejects.toThrow('Images 3–3 are missing from browser storage; add the folder again.');
    await expect(store.readEntries('ds1', 4)).rejects.toThrow('Chunk 4 of this dataset is missing');
    expect(await store.readManifest('ds1')).toBeNull();
    await store.remove('ds1');
    expect(files.paths().every((p) => p.startsWith('ds2/'))).toBe(true);
    expect(files.paths().length).toBeGreaterThan(0);
  });
});

describe('MemoryFileStore ranges', () => {
  it('returns bytes [start, end) and the tail when end is absent', async () => {
    const files = new MemoryFileStore();
    await files.write('a/b', Uint8Array.from([0, 1, 2, 3, 4, 5]));
    expect(Array.from((await files.read('a/b', 2, 4))!)).toEqual([2, 3]);
    expect(Array.from((await files.read('a/b', 4))!)).toEqual([4, 5]);
    expect(await files.read('a/c', 0, 1)).toBeNull();
  });
});
