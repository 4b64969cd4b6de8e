// The on-disk layout of an image dataset. A 20,000-image folder must not live in memory at full
// size, so each image is kept only at working resolution (uint8 RGB, HWC, size×size×3 bytes), in
// fixed-size chunks of consecutive slots, written once and read back on demand:
//
//   <root>/<datasetId>/manifest.json        DatasetManifest (small: counts, the first errors and duplicates)
//   <root>/<datasetId>/chunk-00000.rgb      imagesPerChunk × size² × 3 bytes (the last one shorter)
//   <root>/<datasetId>/chunk-00000.json     ImageEntry[] for the same slots
//   <root>/<datasetId>/thumb-00000.rgb      only when size > THUMB_MAX: thumbSize² × 3 per image
//
// A slot is an image's index among the decoded images of a dataset, in path order. Pure: no DOM.
import type { ImageFormat } from './sniff';
import type { UnreadableKind } from './reasons';

export type DatasetRole = 'clean' | 'suspect' | 'poisoned';

export const ROLE_LABEL: Record<DatasetRole, string> = {
  clean: 'Clean reference',
  suspect: 'Suspect',
  poisoned: 'Known poisoned (evaluation only)',
};

export const ROLE_HINT: Record<DatasetRole, string> = {
  clean: 'Trains the decoder and calibrates the threshold.',
  suspect: 'Scanned for backdoor-triggered images.',
  poisoned: 'Only used to measure how well detection works.',
};

/** Working resolutions offered; 32 is the DeDe decoder's. */
export const WORKING_SIZES = [32, 64, 96, 128, 224] as const;
export const DEFAULT_WORKING_SIZE = 32;
/** Thumbnails are the working pixels themselves up to this size, else a separate THUMB_MAX image. */
export const THUMB_MAX = 64;
/** Chunks aim at this many bytes of pixels, and hold at most MAX_IMAGES_PER_CHUNK images. */
export const CHUNK_TARGET_BYTES = 4 * 1024 * 1024;
export const MAX_IMAGES_PER_CHUNK = 1024;
export const MIN_IMAGES_PER_CHUNK = 16;

/** How a non-square image becomes square: the central square (default) or squashed. */
export type FitMode = 'crop' | 'stretch';

export interface DatasetLayout {
  /** Working resolution: every image is size×size RGB. */
  readonly size: number;
  readonly imagesPerChunk: number;
  readonly thumbSize: number;
  /** False when thumbnails are the working pixels (size ≤ THUMB_MAX). */
  readonly separateThumbs: boolean;
}

export function layoutFor(size: number): DatasetLayout {
  if (!Number.isInteger(size) || size < 8 || size > 1024) throw new Error(`Working resolution must be 8–1024 px, got ${size}.`);
  const perChunk = Math.floor(CHUNK_TARGET_BYTES / (size * size * 3));
  const imagesPerChunk = Math.max(MIN_IMAGES_PER_CHUNK, Math.min(MAX_IMAGES_PER_CHUNK, perChunk));
  const separateThumbs = size > THUMB_MAX;
  return { size, imagesPerChunk, thumbSize: separateThumbs ? THUMB_MAX : size, separateThumbs };
}

export function bytesPerImage(layout: DatasetLayout): number {
  return layout.size * layout.size * 3;
}

export function bytesPerThumb(layout: DatasetLayout): number {
  return layout.thumbSize * layout.thumbSize * 3;
}

export function chunkOfSlot(layout: DatasetLayout, slot: number): { chunk: number; offset: number } {
  return { chunk: Math.floor(slot / layout.imagesPerChunk), offset: slot % layout.imagesPerChunk };
}

export function chunkCount(layout: DatasetLayout, images: number): number {
  return Math.ceil(images / layout.imagesPerChunk);
}

function pad(n: number): string {
  return String(n).padStart(5, '0');
}

export const chunkFile = (chunk: number): string => `chunk-${pad(chunk)}.rgb`;
export const entriesFile = (chunk: number): string => `chunk-${pad(chunk)}.json`;
export const thumbFile = (chunk: number): string => `thumb-${pad(chunk)}.rgb`;
export const MANIFEST_FILE = 'manifest.json';

/** One decoded image. */
export interface ImageEntry {
  readonly slot: number;
  /** Relative path inside the dropped folder, '/'-separated, starting with the folder's name. */
  readonly path: string;
  readonly bytes: number;
  readonly format: ImageFormat;
  /** Size of the original image. */
  readonly width: number;
  readonly height: number;
  /** SHA-256 of the file's bytes, hex. */
  readonly sha256: string;
  /** Slot of the first image with the same bytes, when this one is a duplicate. */
  readonly duplicateOf: number | null;
  /** e.g. "named .png but is a JPEG image". */
  readonly note: string | null;
}

export interface UnreadableFile {
  readonly path: string;
  readonly bytes: number;
  readonly kind: UnreadableKind;
  readonly reason: string;
}

/** Files with identical bytes; `paths[0]` is the one that counts, the rest are its copies. */
export interface DuplicateGroup {
  readonly sha256: string;
  /** The first GROUP_PATHS_CAP + 1 of them (every copy's entry has `duplicateOf` in its chunk file). */
  readonly paths: readonly string[];
  /** How many files have these bytes, when more than `paths` lists (absent: all are listed). */
  readonly files?: number;
}

/**
 * Lists kept in memory, in summaries and in the manifest (unreadable files, duplicate groups,
 * misleading extensions) stop at LIST_CAP items, and a duplicate group at GROUP_PATHS_CAP copies;
 * the counts are always complete. So a 20,000-file folder of copies or of non-images costs no more
 * memory than a 500-file one.
 */
export const LIST_CAP = 500;
export const GROUP_PATHS_CAP = 10;

export type DatasetStatus = 'loading' | 'ready' | 'cancelled' | 'interrupted' | 'failed';

export interface DatasetCounts {
  /** Files seen in the folder. */
  readonly files: number;
  /** Files looked at so far (while loading). */
  readonly processed: number;
  /** Decoded images, duplicates included. */
  readonly images: number;
  readonly unreadable: number;
  /** Images whose bytes equal an earlier image's (not counting that first one). */
  readonly duplicates: number;
  /** Images whose extension does not match their content. */
  readonly mismatched: number;
}

export const ZERO_COUNTS: DatasetCounts = { files: 0, processed: 0, images: 0, unreadable: 0, duplicates: 0, mismatched: 0 };

export interface DatasetManifest {
  readonly version: 1;
  readonly id: string;
  readonly name: string;
  readonly role: DatasetRole;
  readonly layout: DatasetLayout;
  readonly fit: FitMode;
  /** The encoder resize plan the photos went through (its description); absent or null: `fit`. */
  readonly resize?: string | null;
  readonly status: DatasetStatus;
  readonly counts: DatasetCounts;
  readonly chunks: number;
  /** The first LIST_CAP of each (counts has the totals). */
  readonly unreadable: readonly UnreadableFile[];
  readonly duplicates: readonly DuplicateGroup[];
  readonly mismatched: readonly { readonly path: string; readonly note: string }[];
  readonly createdAt: string;
  readonly loadSeconds: number | null;
}

/** Guesses a role from a folder name ("clean", "poison…", else suspect); the user can change it. */
export function guessRole(name: string): DatasetRole {
  const n = name.toLowerCase();
  if (/poison|trigger|backdoor|attack/.test(n)) return 'poisoned';
  if (/clean|reference|\bref\b|train/.test(n)) return 'clean';
  return 'suspect';
}

/** A path that is already normal: no backslash, no empty or '.' segment. */
const NORMAL_PATH = /^(?!\.?(?:\/|$))(?:[^/\\]+\/)*[^/\\]+$/;
const DOT_SEGMENT = /(?:^|\/)\.(?:\/|$)/;

/** Normalises a relative path: '/' separators, no leading './' or '/', no empty segments. */
export function normalisePath(path: string): string {
  // The common case returns the same string: a 20,000-file folder input makes no garbage here.
  if (NORMAL_PATH.test(path) && !DOT_SEGMENT.test(path)) return path;
  return path
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/** Sorts paths the way a file manager does: case-insensitive, numbers by value. */
export const comparePaths = new Intl.Collator('en', { numeric: true, sensitivity: 'base' }).compare;
