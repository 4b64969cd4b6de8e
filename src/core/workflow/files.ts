// Where the browser keeps what it computed or was given: a tiny path → bytes store. The browser uses
// OPFS (workers included), under one root folder per kind of artefact ('dede-workflow' for embedding
// caches, checkpoints, decoders and scan rows; 'dede-datasets' for image chunks); tests use memory.

export interface FileStore {
  /** The whole file, or bytes [start, end) of it; null when it does not exist. */
  read(path: string, start?: number, end?: number): Promise<Uint8Array | null>;
  /** Atomic from the reader's point of view: a crash mid-write leaves the old file or none. */
  write(path: string, bytes: Uint8Array): Promise<void>;
  /** Removes a file, or a folder with everything under it. */
  remove(path: string): Promise<void>;
}

export class MemoryFileStore implements FileStore {
  private readonly files = new Map<string, Uint8Array>();
  async read(path: string, start?: number, end?: number) {
    return this.files.get(path)?.slice(start ?? 0, end) ?? null;
  }
  async write(path: string, bytes: Uint8Array) {
    this.files.set(path, bytes.slice());
  }
  async remove(path: string) {
    for (const key of [...this.files.keys()]) if (key === path || key.startsWith(`${path}/`)) this.files.delete(key);
  }
  paths(): string[] {
    return [...this.files.keys()].sort();
  }
}

/** OPFS-backed store (browser main thread or worker). */
export class OpfsFileStore implements FileStore {
  private rootDir: Promise<FileSystemDirectoryHandle> | null = null;

  constructor(private readonly rootName = 'dede-workflow') {}

  private root(): Promise<FileSystemDirectoryHandle> {
    this.rootDir ??= navigator.storage.getDirectory().then((d) => d.getDirectoryHandle(this.rootName, { create: true }));
    return this.rootDir;
  }

  private async dirFor(path: string, create: boolean): Promise<{ dir: FileSystemDirectoryHandle; name: string } | null> {
    const parts = path.split('/').filter((p) => p !== '');
    const name = parts.pop();
    if (!name) throw new Error(`Invalid file path "${path}".`);
    let dir = await this.root();
    for (const part of parts) {
      try {
        dir = await dir.getDirectoryHandle(part, { create });
      } catch (err) {
        if (!create && err instanceof DOMException && err.name === 'NotFoundError') return null;
        throw err;
      }
    }
    return { dir, name };
  }

  async read(path: string, start?: number, end?: number): Promise<Uint8Array | null> {
    const at = await this.dirFor(path, false);
    if (!at) return null;
    try {
      const file = await (await at.dir.getFileHandle(at.name)).getFile();
      const blob = start !== undefined || end !== undefined ? file.slice(start ?? 0, end) : file;
      return new Uint8Array(await blob.arrayBuffer());
    } catch (err) {
      if (err instanceof DOMException && err.name === 'NotFoundError') return null;
      throw err;
    }
  }

  async write(path: string, bytes: Uint8Array): Promise<void> {
    const at = await this.dirFor(path, true);
    // createWritable writes to a swap file and swaps it in on close(): readers never see half a file.
    const writable = await (await at!.dir.getFileHandle(at!.name, { create: true })).createWritable();
    try {
      await writable.write(bytes as Uint8Array<ArrayBuffer>);
      await writable.close();
    } catch (err) {
      await writable.abort().catch(() => undefined);
      throw err;
    }
  }

  async remove(path: string): Promise<void> {
    const at = await this.dirFor(path, false);
    await at?.dir.removeEntry(at.name, { recursive: true }).catch((err: unknown) => {
      if (!(err instanceof DOMException && err.name === 'NotFoundError')) throw err;
    });
  }
}
