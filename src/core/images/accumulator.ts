// Builds a dataset from decode results arriving in path order: assigns slots, finds duplicates by
// content hash, collects unreadable files, and hands out full chunks to be written and forgotten.
// Memory stays bounded by one chunk of pixels plus a hash per image. Pure: no DOM.
import {
  bytesPerImage,
  bytesPerThumb,
  ZERO_COUNTS,
  type DatasetCounts,
  type DatasetLayout,
  type DuplicateGroup,
  type ImageEntry,
  type UnreadableFile,
} from './dataset';
import type { ImageFormat } from './sniff';

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
  private readonly firstSlot = new Map<string, number>();
  private readonly groups = new Map<string, string[]>();
  private readonly slotPaths = new Map<number, string>();
  private readonly unreadableFiles: UnreadableFile[] = [];
  private readonly mismatchedFiles: { path: string; note: string }[] = [];
  private pixels: Uint8Array;
  private thumbs: Uint8Array | null;
  private entries: ImageEntry[] = [];
  private chunk = 0;
  private images = 0;
  private duplicateCount = 0;
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
    const first = this.firstSlot.get(image.sha256);
    let duplicateOf: number | null = null;
    if (first === undefined) {
      this.firstSlot.set(image.sha256, slot);
      this.slotPaths.set(slot, image.path);
    } else {
      duplicateOf = first;
      this.duplicateCount++;
      const group = this.groups.get(image.sha256);
      if (group) group.push(image.path);
      else this.groups.set(image.sha256, [this.slotPaths.get(first) ?? `#${first}`, image.path]);
    }
    if (image.note) this.mismatchedFiles.push({ path: image.path, note: image.note });
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

  addUnreadable(file: UnreadableFile): void {
    this.processed++;
    this.unreadableFiles.push(file);
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
      unreadable: this.unreadableFiles.length,
      duplicates: this.duplicateCount,
      mismatched: this.mismatchedFiles.length,
    };
  }

  get chunks(): number {
    return this.chunk;
  }

  get unreadable(): readonly UnreadableFile[] {
    return this.unreadableFiles;
  }

  get mismatched(): readonly { path: string; note: string }[] {
    return this.mismatchedFiles;
  }

  get duplicates(): DuplicateGroup[] {
    return [...this.groups].map(([sha256, paths]) => ({ sha256, paths: [...paths] }));
  }
}
