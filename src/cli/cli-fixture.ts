// Test fixtures for the CLI's end-to-end tests (not shipped: only *.test.ts files import it):
// synthetic photos, a trained tiny decoder and calibration, and a quiet CLI runner.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { expect, vi } from 'vitest';
import type { ScannedImage, ScanReport } from '../core/report/scan-report';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../testing/tiny-encoder';
import { main } from './main';

/** A 32×32 PNG of a smooth sinusoidal pattern, a different one for each seed: a synthetic "photo". */
export async function writePng(path: string, seed: number): Promise<void> {
  const px = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) {
    px[(y * 32 + x) * 3 + c] = Math.round(127 + 120 * Math.sin((x + seed) / (3 + c) + Math.cos((y * seed) / 17)));
  }
  await writeRgbPng(path, px);
}

export async function writeRgbPng(path: string, px: Uint8Array, side = 32): Promise<void> {
  await sharp(px, { raw: { width: side, height: side, channels: 3 } }).png().toFile(path);
}

/** Runs the CLI, returning its exit code and what it wrote to stderr (stdout is silenced). */
export async function runQuiet(...argv: string[]): Promise<{ code: number; stderr: string }> {
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await main(argv);
    process.exitCode = 0;
    return { code, stderr: spy.mock.calls.map((c) => String(c[0])).join('') };
  } finally {
    spy.mockRestore();
    out.mockRestore();
  }
}

export interface TrainedFixture {
  readonly enc: string;
  readonly dec: string;
  readonly calib: string;
}

/**
 * The encoder (default: the tiny one) under dir/model, 48 clean photos in dir/clean, a decoder trained on them (2
 * epochs) and a calibration at 10% FPR holding a quarter of them out: what a scan needs.
 */
export async function trainedFixture(dir: string, encoderBytes: Uint8Array = tinyEncoderBytes()): Promise<TrainedFixture> {
  process.env['DEDE_CACHE_DIR'] = join(dir, 'cache');
  await mkdir(join(dir, 'model'));
  const enc = join(dir, 'model', 'encoder.onnx');
  await writeFile(enc, encoderBytes);
  await writeFile(join(dir, 'model', 'preprocessor_config.json'), PREPROCESSOR_CONFIG);
  await mkdir(join(dir, 'clean'));
  for (let i = 0; i < 48; i++) await writePng(join(dir, 'clean', `c${i}.png`), i);
  const dec = join(dir, 'decoder.onnx');
  const calib = join(dir, 'calib.json');
  const trained = await runQuiet('train', '--encoder', enc, '--images', join(dir, 'clean'), '--out', dec, '--epochs', '2', '--batch', '16', '--seed', '3');
  if (trained.code !== 0) throw new Error(`fixture: dede train failed: ${trained.stderr}`);
  const calibrated = await runQuiet('calibrate', '--encoder', enc, '--decoder', dec, '--images', join(dir, 'clean'), '--out', calib, '--fpr', '0.1', '--holdout', '0.25');
  if (calibrated.code !== 0) throw new Error(`fixture: dede calibrate failed: ${calibrated.stderr}`);
  return { enc, dec, calib };
}

/**
 * Each image of a merged sharded report with the unsharded scan's row for it, after checking that
 * what depends on the image and the calibration alone (the decoder score, the paper's score and the
 * decoder p-value) is equal to the bit.
 */
export function pairWithWhole(merged: ScanReport, whole: ScanReport): [ScannedImage, ScannedImage][] {
  const byPath = new Map(whole.images.map((r) => [r.path, r]));
  return merged.images.map((r) => {
    const w = byPath.get(r.path);
    if (!w) throw new Error(`${r.path} is in the merged report but not in the unsharded one`);
    expect(r.decoderScore).toBe(w.decoderScore);
    expect(r.dedeScore).toBe(w.dedeScore);
    expect(r.decoderPValue).toBe(w.decoderPValue);
    return [r, w];
  });
}
