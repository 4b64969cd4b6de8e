// Builds a dataset from decode results arriving in path order: assigns slots, finds duplicates by
// content hash, collects unreadable files, and hands out full chunks to be written and forgotten.
// Memory stays bounded by one chunk of pixels plus ~20–40 bytes per distinct image (the first 128
// bits of its SHA-256 and its slot, in typed arrays); no per-image strings or objects outlive their
// chunk, and the lists of problems stop at LIST_CAP. Pure: no DOM.
import {
  bytesPerImage,
  bytesPerThumb,
  GROUP_PATHS_CAP,
  LIST_CAP,
  ZERO_COUNTS,
  type DatasetCounts,
  type DatasetLayout,
  type DuplicateGroup,
  type ImageEntry,
  type UnreadableFile,
} from './dataset';
import type { ImageFormat } from './sniff';

const HEX128 = /^[0-9a-f]{32}/i;

/** The first 128 bits of a hex digest as four words (any other string is hashed to four words). */
function digestWords(digest: string, out: Uint32Array): void {
  if (HEX128.test(digest)) {
    for (let w = 0; w < 4; w++) out[w] = parseInt(digest.slice(w * 8, w * 8 + 8), 16) >>> 0;
    return;
  }
  for (let w = 0; w < 4; w++) {
    let h = (0x811c9dc5 ^ Math.imul(w + 1, 0x9e3779b9)) >>> 0;
    for (let i = 0; i < digest.length; i++) h = Math.imul(h ^ digest.charCodeAt(i), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    out[w] = h >>> 0;
  }
}

/**
 * Content hash → first slot, as an open-addressing (linear probing) table over typed arrays: 20
 * bytes a cell, at most 3/4 full. Keyed by 128 bits of SHA-256, where an accidental collision
 * needs ~2^64 images; no hash string is kept.
 */
export class FirstSlotIndex {
  private keys: Uint32Array;
  private slots: Int32Array;
  private used = 0;
  private readonly words = new Uint32Array(4);

  constructor(capacity = 1024) {
    const cells = 1 << Math.max(4, Math.ceil(Math.log2(capacity)));
    this.keys = new Uint32Array(cells * 4);
    this.slots = new Int32Array(cells).fill(-1);
  }

  get size(): number {
    return this.used;
  }

  /** Bytes held by the table. */
  get byteLength(): number {
    return this.keys.byteLength + this.slots.byteLength;
  }

  /** The slot stored for `digest`, or -1 after storing `slot` for it. */
  firstOrAdd(digest: string, slot: number): number {
    if ((this.used + 1) * 4 > this.slots.length * 3) this.grow();
    digestWords(digest, this.words);
    const w = this.words;
    const a = w[0]!, b = w[1]!, c = w[2]!, d = w[3]!;
    const mask = this.slots.length - 1;
    for (let i = (a ^ d) & mask; ; i = (i + 1) & mask) {
      const s = this.slots[i]!;
      if (s < 0) {
        this.keys.set(w, i * 4);
        this.slots[i] = slot;
        this.used++;
        return -1;
      }
      const k = i * 4;
      if (this.keys[k] === a && this.keys[k + 1] === b && this.keys[k + 2] === c && this.keys[k + 3] === d) return s;
    }
  }

  private grow(): void {
    const { keys, slots } = this;
    this.keys = new Uint32Array(keys.length * 2);
    this.slots = new Int32Array(slots.length * 2).fill(-1);
    const mask = this.slots.length - 1;
    for (let j = 0; j < slots.length; j++) {
      if (slots[j]! < 0) continue;
      let i = (keys[j * 4]! ^ keys[j * 4 + 3]!) & mask;
      while (this.slots[i]! >= 0) i = (i + 1) & mask;
      this.keys.set(keys.subarray(j * 4, j * 4 + 4), i * 4);
      this.slots[i] = slots[j]!;
    }
  }
}

interface Group {
  readonly sha256: string;
  /** The first file's path; null until read back from its (already written) chunk. */
  first: string | null;
  /** Copies, the first GROUP_PATHS_CAP. */
  readonly copies: string[];
  /** Files in the group, the first included. */
  files: number;
}

export interface DecodedImage {
  readonly path: string;
  readonly bytes: number;
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
  readonly sha256: string;
  readonly note: string | null;
  /** size×size×3 RGB. */
  readonly pixels: Uint8Array;
  /** thumbSize²×3 RGB when the layout keeps separate thumbnails, else null. */
  readonly thumb: Uint8Array | null;
}

export interface ReadyChunk {
  readonly chunk: number;
  /** Exactly entries.length images. */
  readonly pixels: Uint8Array;
  readonly thumbs: Uint8Array | null;
  readonly entries: readonly ImageEntry[];
}

export class DatasetAccumulator {
  private readonly firstSlot = new FirstSlotIndex();
  /** Duplicate groups by first slot, the first LIST_CAP only. */
  private readonly groups = new Map<number, Group>();
  private readonly unnamedSlots = new Set<number>();
  private readonly unreadableFiles: UnreadableFile[] = [];
  private readonly mismatchedFiles: { path: string; note: string }[] = [];
  private pixels: Uint8Array;
  private thumbs: Uint8Array | null;
  private entries: ImageEntry[] = [];
  private chunk = 0;
  private images = 0;
  private duplicateCount = 0;
  private unreadableCount = 0;
  private mismatchedCount = 0;
  private processed = 0;

  constructor(
    readonly layout: DatasetLayout,
    private readonly totalFiles: number,
  ) {
    this.pixels = new Uint8Array(layout.imagesPerChunk * bytesPerImage(layout));
    this.thumbs = layout.separateThumbs ? new Uint8Array(layout.imagesPerChunk * bytesPerThumb(layout)) : null;
  }

  /** Adds the next image in path order; returns a chunk when one is full. */
  addImage(image: DecodedImage): ReadyChunk | null {
    const per = bytesPerImage(this.layout);
    if (image.pixels.length !== per) throw new Error(`${image.path}: expected ${per} RGB bytes, got ${image.pixels.length}.`);
    const slot = this.images++;
    this.processed++;
    const first = this.firstSlot.firstOrAdd(image.sha256, slot);
    let duplicateOf: number | null = null;
    if (first >= 0) {
      duplicateOf = first;
      this.duplicateCount++;
      const group = this.groups.get(first);
      if (group) {
        group.files++;
        if (group.copies.length < GROUP_PATHS_CAP) group.copies.push(image.path);
      } else if (this.groups.size < LIST_CAP) {
        const chunkStart = this.chunk * this.layout.imagesPerChunk;
        const known = first >= chunkStart ? this.entries[first - chunkStart]!.path : null;
        if (known === null) this.unnamedSlots.add(first);
        this.groups.set(first, { sha256: image.sha256, first: known, copies: [image.path], files: 2 });
      }
    }
    if (image.note) {
      this.mismatchedCount++;
      if (this.mismatchedFiles.length < LIST_CAP) this.mismatchedFiles.push({ path: image.path, note: image.note });
    }
    const offset = this.entries.length;
    this.pixels.set(image.pixels, offset * per);
    if (this.thumbs) {
      const t = bytesPerThumb(this.layout);
      if (!image.thumb || image.thumb.length !== t) throw new Error(`${image.path}: expected a ${t}-byte thumbnail.`);
      this.thumbs.set(image.thumb, offset * t);
    }
    this.entries.push({
      slot,
      path: image.path,
      bytes: image.bytes,
      format: image.format,
      width: image.width,
      height: image.height,
      sha256: image.sha256,
      duplicateOf,
      note: image.note,
    });
    return this.entries.length === this.layout.imagesPerChunk ? this.take() : null;
  }

  /**
   * Slots whose paths the duplicate list needs but whose chunks were already handed out: read them
   * back from the chunk files (ImageEntry.path) and give them to nameSlot.
   */
  get unnamed(): readonly number[] {
    return [...this.unnamedSlots];
  }

  nameSlot(slot: number, path: string): void {
    if (!this.unnamedSlots.delete(slot)) return;
    const group = this.groups.get(slot);
    if (group) group.first = path;
  }

  addUnreadable(file: UnreadableFile): void {
    this.processed++;
    this.unreadableCount++;
    if (this.unreadableFiles.length < LIST_CAP) this.unreadableFiles.push(file);
  }

  /** The last, partly filled chunk (null when empty). */
  finish(): ReadyChunk | null {
    return this.entries.length > 0 ? this.take() : null;
  }

  private take(): ReadyChunk {
    const n = this.entries.length;
    const ready: ReadyChunk = {
      chunk: this.chunk++,
      pixels: n === this.layout.imagesPerChunk ? this.pixels : this.pixels.slice(0, n * bytesPerImage(this.layout)),
      thumbs: this.thumbs ? (n === this.layout.imagesPerChunk ? this.thumbs : this.thumbs.slice(0, n * bytesPerThumb(this.layout))) : null,
      entries: this.entries,
    };
    this.entries = [];
    this.pixels = new Uint8Array(this.layout.imagesPerChunk * bytesPerImage(this.layout));
    this.thumbs = this.layout.separateThumbs ? new Uint8Array(this.layout.imagesPerChunk * bytesPerThumb(this.layout)) : null;
    return ready;
  }

  get counts(): DatasetCounts {
    return {
      ...ZERO_COUNTS,
      files: this.totalFiles,
      processed: this.processed,
      images: this.images,
      unreadable: this.unreadableCount,
      duplicates: this.duplicateCount,
      mismatched: this.mismatchedCount,
    };
  }

  get chunks(): number {
    return this.chunk;
  }

  /** The first LIST_CAP (counts has the total). */
  get unreadable(): readonly UnreadableFile[] {
    return this.unreadableFiles;
  }

  /** The first LIST_CAP (counts has the total). */
  get mismatched(): readonly { path: string; note: string }[] {
    return this.mismatchedFiles;
  }

  /** The first LIST_CAP groups, each with its first GROUP_PATHS_CAP copies. */
  get duplicates(): DuplicateGroup[] {
    return [...this.groups].map(([slot, g]) => {
      const paths = [g.first ?? `#${slot}`, ...g.copies];
      return g.files > paths.length ? { sha256: g.sha256, paths, files: g.files } : { sha256: g.sha256, paths };
    });
  }
}
