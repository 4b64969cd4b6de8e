// Pure helpers for report downloads.
import type { ScanRow } from '../scan/scan-store';

/** Paths of the images not flagged at τ, one per line. */
export function cleanedFileList(rows: readonly Pick<ScanRow, 'path' | 'score'>[], threshold: number): string {
  return rows.filter((r) => !(r.score > threshold)).map((r) => `${r.path}\n`).join('');
}

/** A zip entry name under `dir/` for a scanned path: forward slashes, no absolute or parent parts, .png. */
export function zipEntryName(dir: string, path: string, taken: Set<string>): string {
  const parts = path.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const base = (parts.join('/') || 'image').replace(/\.[^./]*$/, '');
  let name = `${dir}/${base}.png`;
  for (let i = 2; taken.has(name); i++) name = `${dir}/${base}~${i}.png`;
  taken.add(name);
  return name;
}

