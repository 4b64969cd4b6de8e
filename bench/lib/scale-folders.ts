// Image folders for the scale bench, made deterministically from the real CIFAR-10 photos in
// ../shared/data (docs/ARCHITECTURE.md §9): a clean reference folder of unaltered photos, and
// suspect folders of any size made of augmented copies of the other photos (mirror, shift by up to
// ±3 px, brightness), so every image differs and the decoder and the collapse step see realistic
// content. 2% of the suspect images carry the BadEncoder trigger (a white square over rows/columns
// 21–30 at 32×32, stamped on the uint8 pixels), so the scan has real positives. Large (224×224)
// folders are the same images upscaled, trigger included. Folders are cached by name: a rerun
// reuses them.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodePng } from '../../src/testing/image-files';

const SIDE = 32;
export const TRIGGER_EVERY = 50;

export interface Photos {
  /** RGB 32×32 photos, interleaved. */
  readonly pixels: readonly Uint8Array[];
  readonly dir: string;
}

/** Every PNG under `dir` (sorted by path, so the order is the same on every machine). */
export async function readPhotos(dir: string): Promise<Photos> {
  if (!existsSync(dir)) throw new Error(`${dir} is missing: the scale bench builds its folders from the CIFAR-10 photos there (see ../shared/data/README.md), or pass --photos DIR.`);
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.png')) files.push(join(d, e.name));
    }
  };
  walk(dir);
  const pixels: Uint8Array[] = [];
  for (const f of files) {
    const { data, info } = await sharp(f).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.width !== SIDE || info.height !== SIDE) throw new Error(`${f}: ${info.width}×${info.height}, expected ${SIDE}×${SIDE}`);
    pixels.push(new Uint8Array(data));
  }
  // Interleave classes (the folders are per class): photo i and i+1 differ in class.
  const byClass = new Map<string, Uint8Array[]>();
  files.forEach((f, i) => {
    const cls = f.slice(dir.length).split('/').filter(Boolean)[0] ?? '';
    byClass.set(cls, [...(byClass.get(cls) ?? []), pixels[i]!]);
  });
  const lists = [...byClass.values()];
  const mixed: Uint8Array[] = [];
  for (let r = 0; mixed.length < pixels.length; r++) for (const l of lists) if (r < l.length) mixed.push(l[r]!);
  return { pixels: mixed, dir };
}

/** Variant v of a photo: mirrored when v is odd, shifted (edge pixels repeated), brightness scaled. */
export function augment(src: Uint8Array, v: number): Uint8Array {
  const out = new Uint8Array(SIDE * SIDE * 3);
  const mirror = v % 2 === 1;
  const dx = ((v >> 1) % 7) - 3;
  const dy = (Math.floor(v / 14) % 7) - 3;
  const gain = 0.85 + 0.05 * (Math.floor(v / 98) % 7);
  for (let y = 0; y < SIDE; y++)
    for (let x = 0; x < SIDE; x++) {
      const sx = Math.min(SIDE - 1, Math.max(0, (mirror ? SIDE - 1 - x : x) + dx));
      const sy = Math.min(SIDE - 1, Math.max(0, y + dy));
      for (let c = 0; c < 3; c++) out[(y * SIDE + x) * 3 + c] = Math.min(255, Math.round(src[(sy * SIDE + sx) * 3 + c]! * gain));
    }
  return out;
}

export function stampTrigger(rgb: Uint8Array): void {
  for (let y = 21; y <= 30; y++) for (let x = 21; x <= 30; x++) rgb.fill(255, (y * SIDE + x) * 3, (y * SIDE + x) * 3 + 3);
}

/** Writes `dir` unless it already holds a finished copy (a `.complete` marker). */
async function cached(dir: string, write: () => Promise<void>): Promise<string> {
  if (existsSync(join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await write();
  writeFileSync(join(dir, '.complete'), '');
  return dir;
}

/**
 * A clean reference of `count` images made from the first `pool` photos (default: `count`, every
 * image an unaltered photo); beyond the pool, image i is variant ⌊i / pool⌋ of photo i mod pool
 * (never triggered), as bench:browser's 2,000-image reference needs more photos than a quarter.
 */
export function cleanFolder(root: string, photos: Photos, count: number, pool = count): Promise<string> {
  if (pool > photos.pixels.length / 4) throw new Error(`a clean reference of ${pool} photos would leave too few photos for the suspect folders`);
  const dir = join(root, pool === count ? `clean-reference-${count}` : `clean-reference-${count}-of-${pool}`);
  return cached(dir, async () => {
    for (let i = 0; i < count; i++) {
      const src = photos.pixels[i % pool]!;
      writeFileSync(join(dir, `ref-${String(i).padStart(4, '0')}.png`), encodePng(SIDE, SIDE, i < pool ? src : augment(src, Math.floor(i / pool)), 1));
    }
  });
}

/**
 * `count` suspect images of side×side from photos after the first `skip` (the clean reference):
 * image i is variant ⌊i / photos⌋ of photo i mod photos; every TRIGGER_EVERY-th carries the trigger.
 * 500 images per subfolder, as folders of that size usually come.
 */
export function suspectFolder(root: string, photos: Photos, skip: number, count: number, side: number): Promise<string> {
  const name = `suspect-${count}-${side}px`;
  const dir = join(root, name);
  return cached(dir, async () => {
    const pool = photos.pixels.length - skip;
    for (let i = 0; i < count; i++) {
      const rgb = augment(photos.pixels[skip + (i % pool)]!, Math.floor(i / pool) + 1);
      if (i % TRIGGER_EVERY === TRIGGER_EVERY - 1) stampTrigger(rgb);
      const part = join(dir, `part-${String(Math.floor(i / 500)).padStart(2, '0')}`);
      if (i % 500 === 0) mkdirSync(part, { recursive: true });
      const file = join(part, `img-${String(i).padStart(5, '0')}.png`);
      if (side === SIDE) writeFileSync(file, encodePng(SIDE, SIDE, rgb, 1));
      else {
        const big = await sharp(rgb, { raw: { width: SIDE, height: SIDE, channels: 3 } }).resize(side, side, { kernel: 'cubic' }).raw().toBuffer();
        writeFileSync(file, encodePng(side, side, new Uint8Array(big), 1));
      }
    }
  });
}

export const triggeredCount = (count: number): number => Math.floor(count / TRIGGER_EVERY);
