// Pure helpers for report downloads.
import type { ScanRow } from '../scan/scan-store';

/**
 * Paths of the images not flagged at τ, one per line. A path that would break the one-per-line
 * layout (a line break in a file name, or a leading double quote) is written as a JSON string.
 */
export function cleanedFileList(rows: readonly Pick<ScanRow, 'path' | 'score'>[], threshold: number): string {
  return rows.filter((r) => !(r.score > threshold)).map((r) => `${listLine(r.path)}\n`).join('');
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

