import { describe, expect, it } from 'vitest';
import { encodeBmp, encodePng, pattern, pngHeaderOnly, TINY_GIF } from '../../testing/image-files';
import { DatasetAccumulator, FirstSlotIndex } from './accumulator';
import { chunkOfSlot, GROUP_PATHS_CAP, guessRole, layoutFor, LIST_CAP, normalisePath } from './dataset';
import { cmykToRgb, fitRect, normalizeRgbBatch, rgbaToRgb } from './pixels';
import { corrupt, emptyFile, notAnImage, tooLarge } from './reasons';
import { declaredDimensions, extensionNote, sniff } from './sniff';

const text = (s: string) => new TextEncoder().encode(s);

describe('sniff', () => {
  it('recognises image formats by their bytes', () => {
    expect(sniff(encodePng(3, 2, pattern(3, 2, 1)))).toEqual({ kind: 'image', format: 'png' });
    expect(sniff(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]))).toEqual({ kind: 'image', format: 'jpeg' });
    expect(sniff(text('RIFF\0\0\0\0WEBPVP8 '))).toEqual({ kind: 'image', format: 'webp' });
    expect(sniff(TINY_GIF)).toEqual({ kind: 'image', format: 'gif' });
    expect(sniff(encodeBmp(2, 2, pattern(2, 2, 0)))).toEqual({ kind: 'image', format: 'bmp' });
    expect(sniff(new Uint8Array([0, 0, 0, 0x1c, ...text('ftypavif'), 0, 0, 0, 0, ...text('avifmif1')]))).toEqual({ kind: 'image', format: 'avif' });
  });

  it('names what a non-image looks like', () => {
    expect(notAnImage(sniff(text('%PDF-1.7\n')) as never).reason).toBe('not an image (looks like a PDF)');
    expect(notAnImage(sniff(text('hello, world\n')) as never).reason).toBe('not an image (looks like text)');
    expect(notAnImage(sniff(text('<svg xmlns="http://www.w3.org/2000/svg"/>')) as never).reason).toMatch(/SVG drawing.*export it as PNG/);
    expect(notAnImage(sniff(new Uint8Array([0, 1, 2, 3, 0, 5])) as never).reason).toBe('not an image (unknown file type)');
    expect(sniff(new Uint8Array([0, 0, 0, 0x18, ...text('ftypheic')]))).toMatchObject({ kind: 'other', what: 'a HEIC photo' });
  });

  it('reads declared dimensions from headers', () => {
    expect(declaredDimensions(encodePng(40, 30, pattern(40, 30, 0)), 'png')).toEqual({ width: 40, height: 30 });
    expect(declaredDimensions(pngHeaderOnly(16384, 16384), 'png')).toEqual({ width: 16384, height: 16384 });
    expect(declaredDimensions(encodeBmp(5, 7, pattern(5, 7, 0)), 'bmp')).toEqual({ width: 5, height: 7 });
    expect(declaredDimensions(TINY_GIF, 'gif')).toEqual({ width: 1, height: 1 });
    const sof = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, 0, 20, 0, 30, 3, 0, 0, 0, 0]);
    expect(declaredDimensions(sof, 'jpeg')).toEqual({ width: 30, height: 20 });
  });

  it('notes an extension that lies', () => {
    expect(extensionNote('a.png', 'png')).toBeNull();
    expect(extensionNote('a.JPG', 'jpeg')).toBeNull();
    expect(extensionNote('a.png', 'jpeg')).toBe('named .png but is a JPEG image');
    expect(extensionNote('README', 'png')).toBe('has no extension but is a PNG image');
  });

  it('words reasons plainly', () => {
    expect(emptyFile().reason).toBe('empty file (0 bytes)');
    expect(corrupt('png').reason).toBe('corrupt PNG: the browser could not decode it');
    expect(tooLarge({ width: 16384, height: 16384 }, 8192).reason).toBe('image is 16384×16384, larger than the 8192 px limit');
  });
});

describe('dataset layout', () => {
  it('sizes chunks by bytes and keeps thumbnails separate only above 64 px', () => {
    expect(layoutFor(32)).toEqual({ size: 32, imagesPerChunk: 1024, thumbSize: 32, separateThumbs: false });
    expect(layoutFor(224)).toMatchObject({ imagesPerChunk: 27, thumbSize: 64, separateThumbs: true });
    expect(chunkOfSlot(layoutFor(32), 2049)).toEqual({ chunk: 2, offset: 1 });
  });

  it('guesses roles and normalises paths', () => {
    expect(guessRole('cifar-clean')).toBe('clean');
    expect(guessRole('poisoned_badnets')).toBe('poisoned');
    expect(guessRole('downloads')).toBe('suspect');
    expect(normalisePath('./a\\b//c.png')).toBe('a/b/c.png');
    for (const [raw, normal] of [['a/b/c.png', 'a/b/c.png'], ['/a/b.png', 'a/b.png'], ['a/./b.png', 'a/b.png'], ['a/b/', 'a/b'], ['.', ''], ['a/..b/.c', 'a/..b/.c'], ['a/.', 'a'], ['x.png', 'x.png']]) expect(normalisePath(raw!)).toBe(normal);
  });
});

describe('DatasetAccumulator', () => {
  const layout = { size: 2, imagesPerChunk: 3, thumbSize: 2, separateThumbs: false };
  const image = (path: string, sha256: string, v: number) => ({
    path, bytes: 10, format: 'png' as const, width: 2, height: 2, sha256, note: null, pixels: new Uint8Array(12).fill(v), thumb: null,
  });

  it('fills chunks in order, finds duplicates and counts bad files', () => {
    const acc = new DatasetAccumulator(layout, 6);
    expect(acc.addImage(image('d/a.png', 'h1', 1))).toBeNull();
    acc.addUnreadable({ path: 'd/x.txt', bytes: 3, kind: 'not-image', reason: 'not an image (looks like text)' });
    expect(acc.addImage(image('d/b.png', 'h2', 2))).toBeNull();
    const full = acc.addImage(image('d/c.png', 'h1', 1));
    expect(full?.chunk).toBe(0);
    expect(full?.entries.map((e) => e.duplicateOf)).toEqual([null, null, 0]);
    expect([...full!.pixels.subarray(0, 12)]).toEqual(new Array(12).fill(1));
    expect([...full!.pixels.subarray(12, 24)]).toEqual(new Array(12).fill(2));
    acc.addImage(image('d/e.png', 'h1', 1));
    const last = acc.finish();
    expect(last?.chunk).toBe(1);
    expect(last?.pixels.length).toBe(12);
    expect(acc.counts).toMatchObject({ files: 6, processed: 5, images: 4, unreadable: 1, duplicates: 2 });
    expect(acc.duplicates).toEqual([{ sha256: 'h1', paths: ['d/a.png', 'd/c.png', 'd/e.png'] }]);
  });
});

describe('FirstSlotIndex', () => {
  const hex = (i: number) => (i.toString(16).padStart(8, '0') + 'ab'.repeat(28)).slice(0, 64);

  it('finds the first slot of 20,000 digests in typed arrays of ~33 bytes per image', () => {
    const index = new FirstSlotIndex();
    for (let i = 0; i < 20_000; i++) expect(index.firstOrAdd(hex(i * 7919), i)).toBe(-1);
    for (let i = 0; i < 20_000; i += 97) expect(index.firstOrAdd(hex(i * 7919), 99_999)).toBe(i);
    expect(index.size).toBe(20_000);
    expect(index.byteLength / 20_000).toBeLessThan(40);
  });

  it('keys other strings too', () => {
    const index = new FirstSlotIndex(4);
    for (let i = 0; i < 100; i++) index.firstOrAdd(`h${i}`, i);
    expect(index.firstOrAdd('h42', 500)).toBe(42);
    expect(index.firstOrAdd('h100', 501)).toBe(-1);
  });
});

describe('DatasetAccumulator memory bounds', () => {
  const layout = { size: 1, imagesPerChunk: 4, thumbSize: 1, separateThumbs: false };
  const image = (path: string, sha256: string) => ({
    path, bytes: 3, format: 'png' as const, width: 1, height: 1, sha256, note: 'named .jpg but is a PNG image', pixels: new Uint8Array(3), thumb: null,
  });

  it('names a first file from an earlier chunk through nameSlot, and caps groups, copies and lists', () => {
    const acc = new DatasetAccumulator(layout, 0);
    acc.addImage(image('d/0.png', 'first'));
    for (let i = 1; i < 6; i++) acc.addImage(image(`d/${i}.png`, `u${i}`));
    acc.addImage(image('d/copy.png', 'first'));
    expect(acc.unnamed).toEqual([0]);
    expect(acc.duplicates[0]!.paths).toEqual(['#0', 'd/copy.png']);
    acc.nameSlot(0, 'd/0.png');
    expect(acc.unnamed).toEqual([]);
    expect(acc.duplicates).toEqual([{ sha256: 'first', paths: ['d/0.png', 'd/copy.png'] }]);
    for (let i = 0; i < GROUP_PATHS_CAP + 5; i++) acc.addImage(image(`d/more-${i}.png`, 'first'));
    const group = acc.duplicates[0]!;
    expect(group.paths).toHaveLength(GROUP_PATHS_CAP + 1);
    expect(group.files).toBe(GROUP_PATHS_CAP + 7);
    for (let i = 0; i < LIST_CAP + 10; i++) {
      acc.addImage(image(`e/${i}.png`, `g${i}`));
      acc.addImage(image(`e/${i}-copy.png`, `g${i}`));
      acc.addUnreadable({ path: `e/${i}.txt`, bytes: 1, kind: 'not-image', reason: 'not an image (looks like text)' });
    }
    expect(acc.duplicates).toHaveLength(LIST_CAP);
    expect(acc.unreadable).toHaveLength(LIST_CAP);
    expect(acc.mismatched).toHaveLength(LIST_CAP);
    expect(acc.counts).toMatchObject({ duplicates: GROUP_PATHS_CAP + 6 + LIST_CAP + 10, unreadable: LIST_CAP + 10, mismatched: acc.counts.images });
  });
});

describe('pixels', () => {
  it('drops alpha and normalises to NCHW with the encoder statistics', () => {
    const rgb = rgbaToRgb(new Uint8Array([255, 0, 51, 9, 0, 255, 102, 9]));
    expect([...rgb]).toEqual([255, 0, 51, 0, 255, 102]);
    const out = normalizeRgbBatch(rgb, 1, { height: 1, width: 2, rescale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], origin: 'test' });
    expect([...out].map((x) => Number(x.toFixed(3)))).toEqual([1, -1, -1, 1, -0.6, -0.2]);
  });

  it('crops the central square', () => {
    expect(fitRect(40, 30, 'crop')).toEqual({ sx: 5, sy: 0, sw: 30, sh: 30 });
    expect(fitRect(40, 30, 'stretch')).toEqual({ sx: 0, sy: 0, sw: 40, sh: 30 });
  });

  it('converts CMYK as Pillow does (values from Pillow 9.4 convert("RGB"))', () => {
    const cmyk = Uint8Array.from([10, 200, 30, 40, 0, 0, 0, 0, 255, 255, 255, 255, 128, 64, 200, 10, 1, 254, 127, 128]);
    expect([...cmykToRgb(cmyk)]).toEqual([207, 46, 190, 255, 255, 255, 0, 0, 0, 122, 184, 53, 127, 0, 64]);
  });
});
