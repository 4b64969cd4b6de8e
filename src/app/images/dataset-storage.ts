// Where a dataset's chunks live: the origin-private file system (OPFS), so a reload finds them,
// or memory when this browser has no OPFS (then a reload loses the pixels, and the UI says so).
import type { ReadyChunk } from '../../core/images/accumulator';
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
} from '../../core/images/dataset';

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

const ROOT = 'dede-datasets';

interface RawStore {
  write(datasetId: string, name: string, data: Uint8Array | string): Promise<void>;
  /** Bytes [start, end) of a file, or null when it does not exist. */
  read(datasetId: string, name: string, start?: number, end?: number): Promise<Uint8Array | null>;
  remove(datasetId: string): Promise<void>;
}

class OpfsRaw implements RawStore {
  private rootDir: Promise<FileSystemDirectoryHandle> | null = null;

  private root(): Promise<FileSystemDirectoryHandle> {
    this.rootDir ??= navigator.storage.getDirectory().then((d) => d.getDirectoryHandle(ROOT, { create: true }));
    return this.rootDir;
  }

  private async dir(datasetId: string, create: boolean): Promise<FileSystemDirectoryHandle | null> {
    try {
      return await (await this.root()).getDirectoryHandle(datasetId, { create });
    } catch (err) {
      if (!create && err instanceof DOMException && err.name === 'NotFoundError') return null;
      throw err;
    }
  }

  async write(datasetId: string, name: string, data: Uint8Array | string): Promise<void> {
    const dir = await this.dir(datasetId, true);
    const handle = await dir!.getFileHandle(name, { create: true });
    const writable = await handle.createWritable();
    try {
      await writable.write(typeof data === 'string' ? data : (data as Uint8Array<ArrayBuffer>));
      await writable.close();
    } catch (err) {
      await writable.abort().catch(() => undefined);
      throw err;
    }
  }

  async read(datasetId: string, name: string, start?: number, end?: number): Promise<Uint8Array | null> {
    const dir = await this.dir(datasetId, false);
    if (!dir) return null;
    let file: File;
    try {
      file = await (await dir.getFileHandle(name)).getFile();
    } catch (err) {
      if (err instanceof DOMException && err.name === 'NotFoundError') return null;
      throw err;
    }
    const blob = start !== undefined ? file.slice(start, end) : file;
    return new Uint8Array(await blob.arrayBuffer());
  }

  async remove(datasetId: string): Promise<void> {
    try {
      await (await this.root()).removeEntry(datasetId, { recursive: true });
    } catch (err) {
      if (!(err instanceof DOMException && err.name === 'NotFoundError')) throw err;
    }
  }
}

class MemoryRaw implements RawStore {
  private readonly files = new Map<string, Uint8Array>();

  async write(datasetId: string, name: string, data: Uint8Array | string): Promise<void> {
    this.files.set(`${datasetId}/${name}`, typeof data === 'string' ? new TextEncoder().encode(data) : data.slice());
  }

  async read(datasetId: string, name: string, start?: number, end?: number): Promise<Uint8Array | null> {
    const f = this.files.get(`${datasetId}/${name}`);
    return f ? f.slice(start ?? 0, end ?? f.length) : null;
  }

  async remove(datasetId: string): Promise<void> {
    for (const key of [...this.files.keys()]) if (key.startsWith(`${datasetId}/`)) this.files.delete(key);
  }
}

class ChunkedStorage implements DatasetStorage {
  constructor(
    private readonly raw: RawStore,
    readonly persistent: boolean,
  ) {}

  async writeChunk(datasetId: string, ready: ReadyChunk): Promise<void> {
    await this.raw.write(datasetId, chunkFile(ready.chunk), ready.pixels);
    if (ready.thumbs) await this.raw.write(datasetId, thumbFile(ready.chunk), ready.thumbs);
    await this.raw.write(datasetId, entriesFile(ready.chunk), JSON.stringify(ready.entries));
  }

  async writeManifest(manifest: DatasetManifest): Promise<void> {
    await this.raw.write(manifest.id, MANIFEST_FILE, JSON.stringify(manifest));
  }

  async readManifest(datasetId: string): Promise<DatasetManifest | null> {
    const bytes = await this.raw.read(datasetId, MANIFEST_FILE);
    return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as DatasetManifest) : null;
  }

  async readEntries(datasetId: string, chunk: number): Promise<ImageEntry[]> {
    const bytes = await this.raw.read(datasetId, entriesFile(chunk));
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
      const bytes = await this.raw.read(datasetId, name, offset * per, (offset + take) * per);
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
    return this.raw.remove(datasetId);
  }
}

function hasOpfs(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function' &&
    typeof FileSystemFileHandle !== 'undefined' && 'createWritable' in FileSystemFileHandle.prototype;
}

let storage: DatasetStorage | null = null;

export function datasetStorage(): DatasetStorage {
  storage ??= hasOpfs() ? new ChunkedStorage(new OpfsRaw(), true) : new ChunkedStorage(new MemoryRaw(), false);
  return storage;
}
