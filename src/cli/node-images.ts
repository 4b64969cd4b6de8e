// Reads image folders for the CLI: recursive walk, decode + resize with sharp, normalise. Unreadable
// files are collected with a reason, never fatal. Files are judged by their bytes with the app's own
// triage (never by their names), so the CLI and the browser accept and refuse the same files.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import sharp from 'sharp';
import { areaResizeRgbBatch } from '../core/images/area-resize';
import { normalizeRgb, type Preprocessing } from '../core/images/preprocess';
import { MAX_SIDE_DEFAULT } from '../core/images/reasons';
import { FORMAT_LABEL } from '../core/images/sniff';
import { endsEarly, ENDS_EARLY, triageImage } from '../core/images/triage';

export interface ImageListing {
  /** Paths relative to the folder, with forward slashes, sorted (hidden files left out). */
  readonly files: readonly string[];
  /** Files that could not be listed (reported, not fatal). */
  readonly skipped: readonly Unreadable[];
}

export interface Unreadable {
  readonly path: string;
  readonly reason: string;
}

export async function listImages(dir: string): Promise<ImageListing> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new Error(`${dir} is not a folder.`);
  const files: string[] = [];
  const skipped: Unreadable[] = [];
  const walk = async (current: string): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true });
    for (const e of entries) {
      const full = join(current, e.name);
      const rel = relative(dir, full).split(sep).join('/');
      if (e.isDirectory()) await walk(full);
      else if (e.name.startsWith('.')) continue;
      else if (e.isFile()) files.push(rel);
      else skipped.push({ path: rel, reason: 'not a regular file' });
    }
  };
  await walk(dir);
  files.sort();
  return { files, skipped };
}

/** Decodes one image to RGB uint8 at the given size; throws a readable error. */
export async function decodeRgb(path: string, width: number, height: number): Promise<Uint8Array> {
  const bytes = await readFile(path);
  const triage = triageImage(bytes, MAX_SIDE_DEFAULT);
  if (!triage.ok) throw new Error(triage.reason);
  try {
    const { data } = await sharp(bytes, { failOn: 'error', limitInputPixels: MAX_SIDE_DEFAULT * MAX_SIDE_DEFAULT })
      .removeAlpha()
      .toColourspace('srgb')
      .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/pixel limit/i.test(message)) throw new Error(`image is larger than the ${MAX_SIDE_DEFAULT}×${MAX_SIDE_DEFAULT} pixel limit`);
    const detail = endsEarly(bytes, triage.format) ? ENDS_EARLY : message.split('\n')[0];
    throw new Error(`corrupt ${FORMAT_LABEL[triage.format]}: it could not be decoded (${detail})`);
  }
}

export interface LoadedImages {
  readonly paths: readonly string[];
  /** Interleaved RGB uint8, [n, H, W, 3]: 4× smaller than floats; normalised per batch. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly unreadable: readonly Unreadable[];
}

/** Loads every readable image of a folder at the given size. */
export async function loadImageFolder(dir: string, size: { width: number; height: number }, onProgress?: (done: number, total: number) => void): Promise<LoadedImages> {
  const { files, skipped } = await listImages(dir);
  const { width, height } = size;
  const bytesPer = 3 * width * height;
  const results = new Array<Uint8Array | Error>(files.length);
  let next = 0;
  let done = 0;
  // A few decodes in flight keep sharp's thread pool busy.
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      results[i] = await decodeRgb(join(dir, files[i]!), width, height).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      onProgress?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const paths: string[] = [];
  const unreadable: Unreadable[] = [...skipped];
  const rgb = new Uint8Array(files.length * bytesPer);
  files.forEach((f, i) => {
    const r = results[i]!;
    if (r instanceof Error) unreadable.push({ path: f, reason: r.message });
    else {
      rgb.set(r, paths.length * bytesPer);
      paths.push(f);
    }
  });
  unreadable.sort((a, b) => a.path.localeCompare(b.path));
  return { paths, rgb: rgb.slice(0, paths.length * bytesPer), width, height, unreadable };
}

/** Normalised CHW float32 batch [indices.length, 3, H, W] of the given images. */
export function normalizedBatch(images: LoadedImages, indices: readonly number[], p: Preprocessing): Float32Array {
  if (p.width !== images.width || p.height !== images.height) throw new Error(`Images were loaded at ${images.width}×${images.height}, not ${p.width}×${p.height}.`);
  const bytesPer = 3 * images.width * images.height;
  const out = new Float32Array(indices.length * bytesPer);
  indices.forEach((idx, k) => normalizeRgb(images.rgb.subarray(idx * bytesPer, (idx + 1) * bytesPer), p, out.subarray(k * bytesPer, (k + 1) * bytesPer)));
  return out;
}

/** The same images area-averaged to size×size: what the decoder sees of what the encoder saw. */
export function atDecoderSize(images: LoadedImages, size: number): LoadedImages {
  if (images.width === size && images.height === size) return images;
  const rgb = areaResizeRgbBatch(images.rgb, images.paths.length, images.width, images.height, size, size);
  return { ...images, rgb, width: size, height: size };
}
