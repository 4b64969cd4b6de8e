// Where a dataset's chunks live: one folder per dataset in a file store, OPFS (root 'dede-datasets')
// so a reload finds them, or memory when this browser has no OPFS (then a reload loses the pixels,
// and the UI says so). The page writes chunks as images are decoded; workers read pixel ranges.
import type { ReadyChunk } from '../images/accumulator';
import {
  bytesPerImage,
  bytesPerThumb,
  chunkFile,
  chunkOfSlot,
  entriesFile,
  MANIFEST_FILE,
  thumbFile,
  type DatasetLayout,
  type DatasetManifest,
  type ImageEntry,
} from '../images/dataset';
import { MemoryFileStore, OpfsFileStore, type FileStore } from './files';

export interface DatasetStorage {
  /** True when data survives a reload. */
  readonly persistent: boolean;
  writeChunk(datasetId: string, ready: ReadyChunk): Promise<void>;
  writeManifest(manifest: DatasetManifest): Promise<void>;
  readManifest(datasetId: string): Promise<DatasetManifest | null>;
  readEntries(datasetId: string, chunk: number): Promise<ImageEntry[]>;
  /** `count` images from `fromSlot` (across chunks), size²·3 bytes each. */
  readPixels(datasetId: string, layout: DatasetLayout, fromSlot: number, count: number): Promise<Uint8Array>;
  /** Same, for thumbnails (the working pixels when the layout has no separate thumbnails). */
  readThumbs(datasetId: string, layout: DatasetLayout, fromSlot: number, count: number): Promise<Uint8Array>;
  remove(datasetId: string): Promise<void>;
}

export class ChunkedDatasetStorage implements DatasetStorage {
  constructor(
    private readonly files: FileStore,
    readonly persistent: boolean,
  ) {}

  private write(datasetId: string, name: string, data: Uint8Array | string): Promise<void> {
    return this.files.write(`${datasetId}/${name}`, typeof data === 'string' ? new TextEncoder().encode(data) : data);
  }

  private read(datasetId: string, name: string, start?: number, end?: number): Promise<Uint8Array | null> {
    return this.files.read(`${datasetId}/${name}`, start, end);
  }

  async writeChunk(datasetId: string, ready: ReadyChunk): Promise<void> {
    await this.write(datasetId, chunkFile(ready.chunk), ready.pixels);
    if (ready.thumbs) await this.write(datasetId, thumbFile(ready.chunk), ready.thumbs);
    await this.write(datasetId, entriesFile(ready.chunk), JSON.stringify(ready.entries));
  }

  async writeManifest(manifest: DatasetManifest): Promise<void> {
    await this.write(manifest.id, MANIFEST_FILE, JSON.stringify(manifest));
  }

  async readManifest(datasetId: string): Promise<DatasetManifest | null> {
    const bytes = await this.read(datasetId, MANIFEST_FILE);
    return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as DatasetManifest) : null;
  }

  async readEntries(datasetId: string, chunk: number): Promise<ImageEntry[]> {
    const bytes = await this.read(datasetId, entriesFile(chunk));
    if (!bytes) throw new Error(`Chunk ${chunk} of this dataset is missing from browser storage; add the folder again.`);
    return JSON.parse(new TextDecoder().decode(bytes)) as ImageEntry[];
  }

  private async readRange(datasetId: string, layout: DatasetLayout, fromSlot: number, count: number, thumbs: boolean): Promise<Uint8Array> {
    const per = thumbs ? bytesPerThumb(layout) : bytesPerImage(layout);
    const out = new Uint8Array(count * per);
    let done = 0;
    while (done < count) {
      const { chunk, offset } = chunkOfSlot(layout, fromSlot + done);
      const take = Math.min(count - done, layout.imagesPerChunk - offset);
      const name = thumbs && layout.separateThumbs ? thumbFile(chunk) : chunkFile(chunk);
      const bytes = await this.read(datasetId, name, offset * per, (offset + take) * per);
      if (!bytes || bytes.length !== take * per) throw new Error(`Images ${fromSlot + done}–${fromSlot + done + take - 1} are missing from browser storage; add the folder again.`);
      out.set(bytes, done * per);
      done += take;
    }
    return out;
  }

  readPixels(datasetId: string, layout: DatasetLayout, fromSlot: number, count: number): Promise<Uint8Array> {
    return this.readRange(datasetId, layout, fromSlot, count, false);
  }

  readThumbs(datasetId: string, layout: DatasetLayout, fromSlot: number, count: number): Promise<Uint8Array> {
    return this.readRange(datasetId, layout, fromSlot, count, true);
  }

  remove(datasetId: string): Promise<void> {
    return this.files.remove(datasetId);
  }
}

function hasOpfs(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function' &&
    typeof FileSystemFileHandle !== 'undefined' && 'createWritable' in FileSystemFileHandle.prototype;
}

let storage: DatasetStorage | null = null;

/** This context's dataset store (page and each worker have their own handle on the same OPFS folder). */
export function datasetStorage(): DatasetStorage {
  storage ??= hasOpfs() ? new ChunkedDatasetStorage(new OpfsFileStore('dede-datasets'), true) : new ChunkedDatasetStorage(new MemoryFileStore(), false);
  return storage;
}
