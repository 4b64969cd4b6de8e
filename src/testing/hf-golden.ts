// Test-only: the Hugging Face preprocessing golden files (src/core/images/__golden__, written by
// scripts/golden/hf_preprocess.py) and how to compare against them, for the CLI's vitest and the
// browser e2e spec alike. Node-only (sharp, onnxruntime-node).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { normalizeRgb, preprocessingFromHf, type Preprocessing } from '../core/images/preprocess';

export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'core', 'images', '__golden__');
export const GOLDEN_SIDE = 224;

/** The four preprocessor configs, by name (vit, clip, convnext, short256). */
export const goldenConfigs = (): Record<string, Record<string, unknown>> => JSON.parse(readFileSync(join(GOLDEN_DIR, 'configs.json'), 'utf8')) as Record<string, Record<string, unknown>>;

export const goldenPreprocessing = (name: string): Preprocessing => preprocessingFromHf(goldenConfigs()[name]!, null);

/** Photo file names, sorted. */
export const goldenPhotos = (): string[] => readdirSync(join(GOLDEN_DIR, 'photos')).sort();

export const goldenPhotoBytes = (photo: string): Buffer => readFileSync(join(GOLDEN_DIR, 'photos', photo));

/** torch's embedding of Pillow's preprocessing of a photo under a config. */
export function goldenEmbedding(config: string, photo: string): number[] {
  const file = JSON.parse(readFileSync(join(GOLDEN_DIR, 'embeddings.json'), 'utf8')) as { embeddings: Record<string, Record<string, number[]>> };
  const e = file.embeddings[config]?.[photo];
  if (!e) throw new Error(`No golden embedding for ${config} / ${photo}.`);
  return e;
}

/** Pillow's uint8 RGB crop of a photo under a config, when one is stored (not for every pair). */
export async function goldenCrop(config: string, photo: string): Promise<Uint8Array | null> {
  const name = photo.replace(/\.[a-z0-9]+$/, '.png');
  if (!readdirSync(join(GOLDEN_DIR, 'crops', config)).includes(name)) return null;
  const { data, info } = await sharp(join(GOLDEN_DIR, 'crops', config, name)).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== GOLDEN_SIDE || info.height !== GOLDEN_SIDE) throw new Error(`${config}/${name}: ${info.width}×${info.height}×${info.channels}`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export interface PixelMatch {
  /** Share of values within ±1 grey level. */
  readonly within1: number;
  readonly max: number;
}

export function comparePixels(ours: Uint8Array, want: Uint8Array): PixelMatch {
  if (ours.length !== want.length) throw new Error(`comparePixels: ${ours.length} values against ${want.length}.`);
  let within1 = 0;
  let max = 0;
  for (let k = 0; k < want.length; k++) {
    const d = Math.abs(ours[k]! - want[k]!);
    if (d <= 1) within1++;
    if (d > max) max = d;
  }
  return { within1: within1 / want.length, max };
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Runs the fixture encoder (onnxruntime-node) on 224-px RGB images normalised with `pre`. */
export async function goldenEmbed(images: readonly Uint8Array[], pre: Preprocessing): Promise<Float32Array[]> {
  const plane = 3 * GOLDEN_SIDE * GOLDEN_SIDE;
  const batch = new Float32Array(images.length * plane);
  images.forEach((rgb, i) => normalizeRgb(rgb, pre, batch.subarray(i * plane, (i + 1) * plane)));
  const session = await ort.InferenceSession.create(join(GOLDEN_DIR, 'encoder.onnx'));
  try {
    const out = await session.run({ pixel_values: new ort.Tensor('float32', batch, [images.length, 3, GOLDEN_SIDE, GOLDEN_SIDE]) });
    const data = out['pooler_output']!.data as Float32Array;
    const dim = data.length / images.length;
    return images.map((_, i) => data.slice(i * dim, (i + 1) * dim));
  } finally {
    await session.release();
  }
}
