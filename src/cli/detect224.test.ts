// Detection holds through the whole 224-px path. The BadEncoder fixture behind an exact 224→32 area
// downsample, in the transformers.js repo layout (root configs, onnx/model.onnx, ResNetModel outputs),
// is run by the CLI on 224-px JPEG photos (trigger stamped at full resolution); the same encoder is
// run on the same pictures at 32 px. Same flags, same seeds: the verdicts must agree.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writePhotoFolders, type PhotoFolders } from '../../scripts/fixtures/photos224';
import { demoEncoder224RepoFiles } from '../../scripts/fixtures/wrap224';
import { exportDecoder, importDecoder } from '../core/dede/decoder-file';
import { auroc } from '../core/dede/metrics';
import type { ScanReport } from '../core/report/scan-report';
import { main } from './main';

const REPO = join(__dirname, '..', '..');
let dir = '';
let photos: PhotoFolders;

/** The first `count` files of a folder (sorted) into one new folder, the rest into another. */
async function split(from: string, count: number, a: string, b: string): Promise<void> {
  const files = (await readdir(from)).sort();
  await mkdir(a, { recursive: true });
  await mkdir(b, { recursive: true });
  for (const [i, f] of files.entries()) await copyFile(join(from, f), join(i < count ? a : b, f));
}

async function writeTree(root: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), bytes);
  }
}

const run = async (...argv: string[]) => {
  const code = await main(argv);
  process.exitCode = 0;
  return code;
};

/** train → calibrate → scan with the README's flags; returns the decoder's path and the scan report. */
async function detect(encoder: string, images: string, tag: string): Promise<{ decoder: string; report: ScanReport }> {
  const decoder = join(dir, `${tag}-decoder.onnx`);
  expect(await run('train', '--encoder', encoder, '--images', join(images, 'train'), '--out', decoder, '--epochs', '40', '--batch', '32', '--seed', '5')).toBe(0);
  return { decoder, report: await calibrateAndScan(encoder, decoder, images, tag) };
}

/** The same decoder, its record naming another encoder's output (the same vector under another name). */
async function relabel(decoder: string, encoderSha256: string, output: string, pooling: 'none' | 'flatten', tag: string): Promise<string> {
  const d = importDecoder(new Uint8Array(await readFile(decoder)));
  const path = join(dir, `${tag}-decoder.onnx`);
  const encoder = { ...d.meta.encoder!, sha256: encoderSha256, output, readout: { output, pooling, dim: d.cfg.embedDim } };
  await writeFile(path, exportDecoder(d.cfg, d.weights, { ...d.meta, encoder }, d.graph));
  return path;
}

/** calibrate → scan with a trained decoder. */
async function calibrateAndScan(encoder: string, decoder: string, images: string, tag: string, extra: readonly string[] = []): Promise<ScanReport> {
  const calib = join(dir, `${tag}-calib.json`);
  const report = join(dir, `${tag}-report.json`);
  expect(await run('calibrate', '--encoder', encoder, '--decoder', decoder, '--images', join(images, 'calib'), '--out', calib, '--fpr', '0.05', ...extra)).toBe(0);
  // The collapse reference: every clean picture (the decoder's training images included: it uses embeddings only).
  expect(await run('scan', '--encoder', encoder, '--decoder', decoder, '--calibration', calib, '--images', join(images, 'suspect'), '--out', report, '--reference', join(images, 'clean-reference'), ...extra)).toBe(0);
  return JSON.parse(await readFile(report, 'utf8')) as ScanReport;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dede-224-'));
  process.env['DEDE_CACHE_DIR'] = join(dir, 'cache');
  photos = await writePhotoFolders(join(dir, 'photos'));
  for (const set of [photos.dir224, photos.dir32]) await split(join(set, 'clean-reference'), 120, join(set, 'train'), join(set, 'calib'));
  await writeTree(join(dir, 'repo224'), demoEncoder224RepoFiles('badencoder'));
  await mkdir(join(dir, 'enc32'));
  for (const f of ['model.onnx', 'preprocessor_config.json']) await copyFile(join(REPO, 'public/demo/encoders/badencoder', f), join(dir, 'enc32', f));
}, 300_000);

describe('the 224-px BadEncoder fixture through the CLI', () => {
  it('is detected as well as the same encoder fed its 32-px photos', async () => {
    const enc224 = join(dir, 'repo224', 'onnx', 'model.onnx');
    const enc32 = join(dir, 'enc32', 'model.onnx');
    const p224 = await detect(enc224, photos.dir224, 'p224');
    const p32 = await detect(enc32, photos.dir32, 'p32');
    const triggered = new Map(photos.suspect.map((r) => [r.file.replace(/^suspect\//, '').replace(/\.\w+$/, ''), r.triggered]));
    const measure = (report: ScanReport) => {
      const labels = report.images.map((r) => triggered.get(r.path.replace(/\.\w+$/, ''))!);
      expect(labels.filter(Boolean)).toHaveLength(40);
      return { fused: auroc(report.images.map((r) => r.score), labels), perImage: auroc(report.images.map((r) => r.decoderScore!), labels) };
    };
    const [a, b] = [measure(p224.report), measure(p32.report)];
    expect(p224.report.images).toHaveLength(200);
    expect(p224.report.settings['preprocessing']).toMatchObject({ height: 224, width: 224, resize: { description: expect.stringMatching(/short edge to 224/) } });
    // Each decoder also scores the other path's photos: with the decoder fixed, what remains is the path.
    const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');
    const dec32at224 = measure(await calibrateAndScan(enc224, await relabel(p32.decoder, await sha(enc224), 'pooler_output', 'flatten', 'x224'), photos.dir224, 'x224'));
    const dec224at32 = measure(await calibrateAndScan(enc32, await relabel(p224.decoder, await sha(enc32), 'embedding', 'none', 'x32'), photos.dir32, 'x32'));
    const f = (m: { fused: number; perImage: number }) => `fused ${m.fused.toFixed(4)}, per-image ${m.perImage.toFixed(4)}`;
    process.stderr.write(
      `whole path — 224 px: ${f(a)}; 32 px: ${f(b)}\n` +
        `decoder trained at 224 px — on 224-px photos: ${f(a)}; on 32-px photos: ${f(dec224at32)}\n` +
        `decoder trained at 32 px — on 224-px photos: ${f(dec32at224)}; on 32-px photos: ${f(b)}\n`,
    );
    expect(a.fused).toBeGreaterThan(0.95);
    expect(Math.abs(a.fused - b.fused)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(a.perImage - dec224at32.perImage)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(dec32at224.perImage - b.perImage)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(dec32at224.fused - b.fused)).toBeLessThanOrEqual(0.01);
  }, 900_000);
});
