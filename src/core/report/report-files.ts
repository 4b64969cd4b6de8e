// Pure helpers for report downloads: the cleaned file list, zip entry names, a Blob built in pieces.

/** What the cleaned list needs of a scan row. */
export interface ScoredPath {
  readonly path: string;
  readonly score: number;
}

/**
 * Paths of the images not flagged at τ, one per line. A path that would break the one-per-line
 * layout (a line break in a file name, or a leading double quote) is written as a JSON string.
 */
export function cleanedFileList(rows: Iterable<ScoredPath>, threshold: number): string {
  return [...cleanedFileListParts(rows, threshold)].join('');
}

/** cleanedFileList in pieces of up to `linesPerPart` lines (for a Blob built without one big string). */
export function* cleanedFileListParts(rows: Iterable<ScoredPath>, threshold: number, linesPerPart = 256): Generator<string> {
  let lines: string[] = [];
  for (const r of rows) {
    if (r.score > threshold) continue;
    lines.push(`${listLine(r.path)}\n`);
    if (lines.length >= linesPerPart) {
      yield lines.join('');
      lines = [];
    }
  }
  if (lines.length > 0) yield lines.join('');
}

/**
 * A Blob from many string or byte pieces, folded into blob storage every `foldEvery` pieces so
 * that the pieces of a large report never all sit in the page's heap at once.
 */
export function blobFromParts(parts: Iterable<BlobPart>, type: string, foldEvery = 1): Blob {
  let blob = new Blob([], { type });
  let pending: BlobPart[] = [];
  for (const part of parts) {
    pending.push(part);
    if (pending.length >= foldEvery) {
      blob = new Blob([blob, ...pending], { type });
      pending = [];
    }
  }
  return pending.length > 0 ? new Blob([blob, ...pending], { type }) : blob;
}

function listLine(path: string): string {
  return /[\r\n]/.test(path) || path.startsWith('"') ? JSON.stringify(path) : path;
}

/** Characters Windows refuses in file names (and control characters): unzipping would fail on them. */
const UNSAFE_IN_ZIP = /[\u0000-\u001f\u007f<>:"|?*]/g;

/** A zip entry name under `dir/` for a scanned path: forward slashes, no absolute or parent parts, .png. */
export function zipEntryName(dir: string, path: string, taken: Set<string>): string {
  const parts = path.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const base = (parts.map((p) => p.replace(UNSAFE_IN_ZIP, '_')).join('/') || 'image').replace(/\.[^./]*$/, '');
  let name = `${dir}/${base}.png`;
  for (let i = 2; taken.has(name); i++) name = `${dir}/${base}~${i}.png`;
  taken.add(name);
  return name;
}

