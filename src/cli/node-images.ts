// Reads image folders for the CLI: recursive walk, decode with sharp at full resolution, then the
// encoder's resize plan (the same applyResizePlan the browser worker runs), normalise. Unreadable
// files are collected with a reason, never fatal. Files are judged by their bytes with the app's own
// triage (never by their names), so the CLI and the browser accept and refuse the same files.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import sharp from 'sharp';
import { areaResizeRgbBatch } from '../core/images/area-resize';
import { cmykToRgb } from '../core/images/pixels';
import { normalizeRgb, resizePlanOf, type Preprocessing } from '../core/images/preprocess';
import { applyResizePlan, planAtSize, ResizePlanError, type ResizePlan } from '../core/images/resize-plan';
import { badShape, MAX_SIDE_DEFAULT } from '../core/images/reasons';
import { FORMAT_LABEL } from '../core/images/sniff';
import { endsEarly, ENDS_EARLY, triageImage } from '../core/images/triage';
import { errorText } from '../core/runtime/error-text';

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

export interface FullImage {
  /** Interleaved 8-bit RGB, width × height × 3. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Decodes one image file at full resolution the way transformers' load_image sees it (Pillow's
 * ImageOps.exif_transpose then convert('RGB')): EXIF orientation applied; greyscale, palette and
 * 16-bit images to 8-bit RGB (16 bits keep their high byte, as Pillow does for RGB; for 16-bit
 * greyscale Pillow clips to 255 instead, which we do not copy); alpha dropped, not composited
 * (convert('RGB') keeps the colour under transparent pixels); CMYK by Pillow's naive formula; no ICC
 * colour management (Pillow applies none). Throws a readable error.
 */
export async function decodeFullRgb(bytes: Uint8Array): Promise<FullImage> {
  const triage = triageImage(bytes, MAX_SIDE_DEFAULT);
  if (!triage.ok) throw new Error(triage.reason);
  try {
    const open = () => sharp(bytes, { failOn: 'error', limitInputPixels: MAX_SIDE_DEFAULT * MAX_SIDE_DEFAULT, ignoreIcc: true }).rotate();
    const { space } = await sharp(bytes).metadata();
    if (space === 'cmyk') {
      // Keep the stored CMYK (libvips would colour-manage it to sRGB) and convert as Pillow does.
      const { data, info } = await open().pipelineColourspace('cmyk').toColourspace('cmyk').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      if (info.channels !== 4) throw new Error(`expected 4 CMYK channels, got ${info.channels}`);
      return { rgb: cmykToRgb(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)), width: info.width, height: info.height };
    }
    const { data, info } = await open().toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 RGB channels, got ${info.channels}`);
    return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    const message = errorText(err);
    if (/pixel limit/i.test(message)) throw new Error(`image is larger than the ${MAX_SIDE_DEFAULT}×${MAX_SIDE_DEFAULT} pixel limit`);
    const detail = endsEarly(bytes, triage.format) ? ENDS_EARLY : message.split('\n')[0];
    throw new Error(`corrupt ${FORMAT_LABEL[triage.format]}: it could not be decoded (${detail})`);
  }
}

/** Decodes one image file and applies a resize plan: RGB uint8 at plan.width × plan.height. */
export async function decodeRgb(path: string, plan: ResizePlan): Promise<Uint8Array> {
  return (await decodeFile(path, plan)).rgb;
}

/** decodeRgb, with the SHA-256 of the file's bytes (the key of its cached embedding). */
async function decodeFile(path: string, plan: ResizePlan): Promise<{ rgb: Uint8Array; sha256: string }> {
  const bytes = new Uint8Array(await readFile(path));
  const full = await decodeFullRgb(bytes);
  try {
    return { rgb: applyResizePlan(full.rgb, full.width, full.height, plan), sha256: createHash('sha256').update(bytes).digest('hex') };
  } catch (err) {
    if (err instanceof ResizePlanError) throw new Error(badShape(err.message).reason);
    throw err;
  }
}

export interface LoadedImages {
  readonly paths: readonly string[];
  /** Interleaved RGB uint8, [n, H, W, 3]: 4× smaller than floats; normalised per batch. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** SHA-256 of each image file's bytes, in the order of `paths`. */
  readonly sha256: readonly string[];
  readonly unreadable: readonly Unreadable[];
}

/**
 * Loads every readable image of a folder at `target`'s size through its resize plan (a
 * Preprocessing without one stretches). When the size is not the plan's own (the decoder's images),
 * the plan's output is area-averaged down to it: the decoder sees what the encoder sees.
 */
export async function loadImageFolder(dir: string, target: Pick<Preprocessing, 'width' | 'height' | 'resize'>, onProgress?: (done: number, total: number) => void): Promise<LoadedImages> {
  const { files, skipped } = await listImages(dir);
  return loadImageFiles(dir, files, target, onProgress, skipped);
}

/** loadImageFolder on given files of the folder (paths relative to it); `skipped` joins the unreadable. */
export async function loadImageFiles(dir: string, files: readonly string[], target: Pick<Preprocessing, 'width' | 'height' | 'resize'>, onProgress?: (done: number, total: number) => void, skipped: readonly Unreadable[] = []): Promise<LoadedImages> {
  const { width, height } = target;
  const plan = planAtSize(resizePlanOf(target), { width, height });
  const bytesPer = 3 * width * height;
  const results = new Array<{ rgb: Uint8Array; sha256: string } | Error>(files.length);
  let next = 0;
  let done = 0;
  // Two decodes in flight keep sharp busy while the resize runs here; each holds one full-size photo.
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      results[i] = await decodeFile(join(dir, files[i]!), plan).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      onProgress?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: 2 }, worker));
  const paths: string[] = [];
  const sha256: string[] = [];
  const unreadable: Unreadable[] = [...skipped];
  const rgb = new Uint8Array(files.length * bytesPer);
  files.forEach((f, i) => {
    const r = results[i]!;
    if (r instanceof Error) unreadable.push({ path: f, reason: r.message });
    else {
      rgb.set(r.rgb, paths.length * bytesPer);
      paths.push(f);
      sha256.push(r.sha256);
    }
  });
  unreadable.sort((a, b) => a.path.localeCompare(b.path));
  return { paths, rgb: rgb.slice(0, paths.length * bytesPer), width, height, sha256, unreadable };
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
