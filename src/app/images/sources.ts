// Turning what the user gave us (a drop, a folder picker, a file input) into folders of files with
// relative paths. Each top-level folder becomes one dataset; loose files form one more.
import { comparePaths, normalisePath } from '../../core/images/dataset';

export interface SourceFile {
  readonly file: File;
  /** '/'-separated path relative to the dropped/picked folder's parent (starts with its name). */
  readonly path: string;
}

export interface FolderSource {
  readonly name: string;
  /**
   * Handed over to loadFolder, which empties it at the start and lets each File go once its batch
   * is decoded, so a 20,000-file folder's File objects do not all live until the load ends.
   */
  readonly files: SourceFile[];
}

/** A file's relative path: webkitRelativePath (folder inputs, and drops that lost their entries), else its name. */
export function relativePathOf(file: File): string {
  return normalisePath(file.webkitRelativePath || file.name);
}

/** Groups files by their first path segment; files without a folder go to `looseName`. */
export function groupByTopFolder(files: readonly SourceFile[], looseName: string): FolderSource[] {
  const groups = new Map<string, SourceFile[]>();
  const loose: SourceFile[] = [];
  for (const f of files) {
    const slash = f.path.indexOf('/');
    if (slash < 0) {
      loose.push(f);
      continue;
    }
    const top = f.path.slice(0, slash);
    const list = groups.get(top);
    if (list) list.push(f);
    else groups.set(top, [f]);
  }
  const out = [...groups].map(([name, list]) => ({ name, files: sortFiles(list) }));
  if (loose.length > 0) out.push({ name: looseName, files: sortFiles(loose.map((f) => ({ file: f.file, path: `${looseName}/${f.path}` }))) });
  return out;
}

function sortFiles(files: SourceFile[]): SourceFile[] {
  return files.sort((a, b) => comparePaths(a.path, b.path));
}

/** Files from `<input type=file>` (with or without webkitdirectory). */
export function fromFileList(list: FileList | readonly File[], looseName = 'Selected files'): FolderSource[] {
  return groupByTopFolder([...list].map((file) => ({ file, path: relativePathOf(file) })), looseName);
}

function readAllEntries(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  // readEntries hands out a batch (100 in Chromium) per call until it returns an empty one.
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  return new Promise((resolve, reject) => {
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function walkEntry(entry: FileSystemEntry, prefix: string, out: SourceFile[], failures: string[]): Promise<void> {
  const path = prefix ? `${prefix}/${entry.name}` : entry.name;
  if (entry.isFile) {
    try {
      out.push({ file: await entryFile(entry as FileSystemFileEntry), path });
    } catch {
      failures.push(path);
    }
  } else if (entry.isDirectory) {
    let children: FileSystemEntry[];
    try {
      children = await readAllEntries(entry as FileSystemDirectoryEntry);
    } catch {
      failures.push(`${path}/`);
      return;
    }
    for (const child of children) await walkEntry(child, path, out, failures);
  }
}

export interface CollectedDrop {
  readonly folders: FolderSource[];
  /** Paths the browser would not hand over (permissions, vanished files). */
  readonly failures: readonly string[];
}

/**
 * Must be called synchronously inside the drop handler (items go stale after it returns). Walks
 * dropped folders recursively with webkitGetAsEntry; when the browser gives no entries (a
 * synthetic DataTransfer, old browsers) it falls back to dataTransfer.files and their
 * webkitRelativePath.
 */
export function collectDrop(dt: DataTransfer, looseName = 'Dropped files'): Promise<CollectedDrop> {
  const entries: FileSystemEntry[] = [];
  for (const item of [...dt.items]) {
    if (item.kind !== 'file') continue;
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
  }
  const files = [...dt.files];
  const useEntries = entries.length > 0 && entries.some((e) => e.isDirectory);
  if (!useEntries) return Promise.resolve({ folders: fromFileList(files, looseName), failures: [] });
  return (async () => {
    const out: SourceFile[] = [];
    const failures: string[] = [];
    for (const entry of entries) await walkEntry(entry, '', out, failures);
    return { folders: groupByTopFolder(out, looseName), failures };
  })();
}

// The File System Access API is not in TypeScript's DOM library for every browser; typed here.
interface DirectoryHandleLike {
  readonly kind: 'directory';
  readonly name: string;
  values(): AsyncIterable<DirectoryHandleLike | FileHandleLike>;
}
interface FileHandleLike {
  readonly kind: 'file';
  readonly name: string;
  getFile(): Promise<File>;
}
type PickerWindow = Window & { showDirectoryPicker?: (options?: { mode?: 'read' }) => Promise<DirectoryHandleLike> };

export function hasDirectoryPicker(): boolean {
  return typeof (window as PickerWindow).showDirectoryPicker === 'function';
}

async function walkHandle(dir: DirectoryHandleLike, prefix: string, out: SourceFile[], failures: string[]): Promise<void> {
  for await (const handle of dir.values()) {
    const path = `${prefix}/${handle.name}`;
    if (handle.kind === 'directory') await walkHandle(handle, path, out, failures);
    else {
      try {
        out.push({ file: await handle.getFile(), path });
      } catch {
        failures.push(path);
      }
    }
  }
}

/** Asks for a folder with showDirectoryPicker; null when the user closes the picker. */
export async function pickDirectory(): Promise<CollectedDrop | null> {
  const picker = (window as PickerWindow).showDirectoryPicker;
  if (!picker) throw new Error('This browser has no folder picker; use “Choose folder (upload)” instead.');
  let dir: DirectoryHandleLike;
  try {
    dir = await picker.call(window, { mode: 'read' });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') return null;
    throw err;
  }
  const out: SourceFile[] = [];
  const failures: string[] = [];
  await walkHandle(dir, dir.name, out, failures);
  return { folders: [{ name: dir.name, files: sortFiles(out) }], failures };
}
