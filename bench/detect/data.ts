// The bench's data: the CIFAR-10 splits of scripts/fixtures/splits.json decoded at 32 px, the trigger
// stamped on uint8 pixels, and a folder salted with exact and near duplicates.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeRgb } from '../../src/cli/node-images';
import { mulberry32, pixelFingerprints, type Rows } from '../../src/core/dede';
import { permutation } from '../../src/core/dede/rng';
import { normalizeRgb, type Preprocessing } from '../../src/core/images/preprocess';
import { exactResizePlan } from '../../src/core/images/resize-plan';
import { DATA_DIR, RANDOM_CLEAN, SALT, SPLITS_PATH } from './settings';

export interface Trigger {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
  readonly value_rgb: readonly [number, number, number];
  readonly image_size: readonly [number, number];
}

export interface Splits {
  readonly reference_image: string;
  readonly trigger: Trigger;
  readonly sets: Readonly<Record<string, readonly string[]>>;
}

/** Interleaved RGB uint8 [n, 32, 32, 3]. */
export interface RgbSet {
  readonly files: readonly string[];
  readonly rgb: Uint8Array;
}

export const SIDE = 32;
export const PIXELS = SIDE * SIDE * 3;

export async function loadSet(files: readonly string[]): Promise<RgbSet> {
  const rgb = new Uint8Array(files.length * PIXELS);
  // The bench photos are SIDE px already; the plan only guards against a stray size.
  const plan = exactResizePlan({ height: SIDE, width: SIDE }, 'lanczos');
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      rgb.set(await decodeRgb(join(DATA_DIR, files[i] as string), plan), i * PIXELS);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { files, rgb };
}

/** The manifest's trigger stamped on a copy of the uint8 pixels (before any normalisation). */
export function stampTrigger(set: RgbSet, t: Trigger): RgbSet {
  if (t.image_size[0] !== SIDE || t.image_size[1] !== SIDE) throw new Error(`trigger is for ${t.image_size.join('×')} images, not ${SIDE}×${SIDE}`);
  const rgb = set.rgb.slice();
  const n = set.files.length;
  for (let i = 0; i < n; i++)
    for (let y = t.top; y < t.top + t.height; y++)
      for (let x = t.left; x < t.left + t.width; x++)
        for (let c = 0; c < 3; c++) rgb[i * PIXELS + (y * SIDE + x) * 3 + c] = t.value_rgb[c] as number;
  return { files: set.files, rgb };
}

export function normalise(set: RgbSet, p: Preprocessing): Float32Array {
  if (p.width !== SIDE || p.height !== SIDE) throw new Error(`the encoder expects ${p.width}×${p.height} input; this bench is for ${SIDE}×${SIDE} CIFAR-10 encoders`);
  const n = set.files.length;
  const out = new Float32Array(n * PIXELS);
  for (let i = 0; i < n; i++) normalizeRgb(set.rgb.subarray(i * PIXELS, (i + 1) * PIXELS), p, out.subarray(i * PIXELS, (i + 1) * PIXELS));
  return out;
}

export function fingerprints(set: RgbSet): Rows {
  return pixelFingerprints(set.rgb, { channels: 3, height: SIDE, width: SIDE }, { layout: 'hwc' });
}

export interface Data {
  readonly splits: Splits;
  readonly train: RgbSet;
  readonly cal: RgbSet;
  readonly testClean: RgbSet;
  readonly testTrig: RgbSet;
  /** test_triggered's photos before any trigger (the fixtures stamp their own, bench/detect/fixtures.ts). */
  readonly testTrigPhotos: RgbSet;
  readonly randomClean: RgbSet;
  readonly reference: RgbSet;
  /** Duplicates of test_clean images (exact, JPEG q70 re-saved, resized 24→32), for the salted folder. */
  readonly salted: RgbSet;
}

/** A deterministic set of duplicates of `set`'s images: what a real folder holds when photos are re-saved. */
export async function saltDuplicates(set: RgbSet): Promise<RgbSet> {
  const n = SALT.exact + SALT.jpeg + SALT.resized;
  const pick = permutation(set.files.length, mulberry32(777)).slice(0, n);
  const raw = { raw: { width: SIDE, height: SIDE, channels: 3 as const } };
  const rgb = new Uint8Array(n * PIXELS);
  const files: string[] = [];
  for (let j = 0; j < n; j++) {
    const i = pick[j] as number;
    const src = Buffer.from(set.rgb.subarray(i * PIXELS, (i + 1) * PIXELS));
    let out: Buffer = src;
    let kind = 'exact';
    if (j >= SALT.exact + SALT.jpeg) {
      kind = 'resized';
      const small = await sharp(src, raw).resize(24, 24).raw().toBuffer();
      out = await sharp(small, { raw: { width: 24, height: 24, channels: 3 } }).resize(SIDE, SIDE).raw().toBuffer();
    } else if (j >= SALT.exact) {
      kind = 'jpeg';
      out = await sharp(await sharp(src, raw).jpeg({ quality: 70 }).toBuffer()).removeAlpha().raw().toBuffer();
    }
    rgb.set(out, j * PIXELS);
    files.push(`${kind}:${set.files[i] as string}`);
  }
  return { files, rgb };
}

export async function loadData(): Promise<Data> {
  const splits = JSON.parse(readFileSync(SPLITS_PATH, 'utf8')) as Splits;
  const set = (name: string): readonly string[] => {
    const s = splits.sets[name];
    if (!s) throw new Error(`${SPLITS_PATH} has no set ${name}`);
    return s;
  };
  const pool = set('demo_clean_reference');
  const randomFiles = permutation(pool.length, mulberry32(20250602)).slice(0, RANDOM_CLEAN).map((i) => pool[i] as string);
  const [train, cal, testClean, testTrigPhotos, randomClean, reference] = await Promise.all([
    loadSet(set('decoder_train_clean')),
    loadSet(set('calibration_clean')),
    loadSet(set('test_clean')),
    loadSet(set('test_triggered')),
    loadSet(randomFiles),
    loadSet([splits.reference_image]),
  ]);
  return { splits, train, cal, testClean, testTrig: stampTrigger(testTrigPhotos, splits.trigger), testTrigPhotos, randomClean, reference, salted: await saltDuplicates(testClean) };
}
