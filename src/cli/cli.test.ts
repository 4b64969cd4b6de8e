// The CLI end to end on a synthetic fixture: train → calibrate → scan, reports parsed and checked.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Papa from 'papaparse';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { vitModelBytes } from '../testing/hf-encoders';
import { loadCliEncoder } from './encoder';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../testing/tiny-encoder';
import { importDecoder } from '../core/dede/decoder-file';
import { calibrate } from '../core/dede/calibrate';
import { reportComponentWeights, type ScanReport } from '../core/report/scan-report';
import { main } from './main';
import { writePng } from './cli-fixture';

let dir = '';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dede-cli-'));
  process.env['DEDE_CACHE_DIR'] = join(dir, 'cache');
  await mkdir(join(dir, 'model'));
  await writeFile(join(dir, 'model', 'encoder.onnx'), tinyEncoderBytes());
  await writeFile(join(dir, 'model', 'preprocessor_config.json'), PREPROCESSOR_CONFIG);
  await mkdir(join(dir, 'clean', 'nested'), { recursive: true });
  for (let i = 0; i < 48; i++) await writePng(join(dir, 'clean', i % 2 ? 'nested' : '', `c${i}.png`), i);
  await mkdir(join(dir, 'suspect', 'sub'), { recursive: true });
  for (let i = 0; i < 12; i++) await writePng(join(dir, 'suspect', i % 3 ? '' : 'sub', `s${i}.png`), 100 + i);
  await writeFile(join(dir, 'suspect', 'broken.png'), 'not really a png');
  await writeFile(join(dir, 'suspect', 'empty.jpg'), '');
  await writeFile(join(dir, 'suspect', 'notes.txt'), 'hello');
});

const run = async (...argv: string[]) => {
  const code = await main(argv);
  process.exitCode = 0;
  return code;
};

describe('dede CLI', () => {
  it('trains, calibrates and scans, writing reports that parse', async () => {
    const enc = join(dir, 'model', 'encoder.onnx');
    const dec = join(dir, 'decoder.onnx');
    expect(await run('train', '--encoder', enc, '--images', join(dir, 'clean'), '--out', dec, '--epochs', '3', '--batch', '16', '--seed', '3', '--blind', '0.5')).toBe(0);
    const decBytes = new Uint8Array(await readFile(dec));
    expect(decBytes.length).toBeGreaterThan(10_000);
    expect(importDecoder(decBytes).meta.training).toMatchObject({ maskRatio: 0.9, blindShare: 0.5 });
    expect(importDecoder(decBytes).meta.encoder?.readout).toEqual({ output: 'embedding', pooling: 'none', dim: 128, reason: "'embedding' [?, 128] is the model's only output that can be read as an embedding." });
    expect(await run('train', '--encoder', enc, '--images', join(dir, 'clean'), '--out', join(dir, 'never.onnx'), '--blind', '1.5')).toBe(2);
    expect(await run('train', '--encoder', enc, '--images', join(dir, 'clean'), '--out', join(dir, 'never.onnx'), '--fixed-epochs')).toBe(2);

    // With held-back images (here the suspect folder's readable ones, never trained on): their
    // loss after every epoch, and the reason it stopped, on stderr and in the decoder file.
    const held = join(dir, 'held.onnx');
    const trainErr = vi.spyOn(process.stderr, 'write');
    expect(await run('train', '--encoder', enc, '--images', join(dir, 'clean'), '--out', held, '--epochs', '3', '--batch', '16', '--seed', '3', '--held-back', join(dir, 'suspect'), '--fixed-epochs')).toBe(0);
    const said = trainErr.mock.calls.map((c) => String(c[0])).join('');
    trainErr.mockRestore();
    expect(said).toContain('held-back: 12 of 12 images');
    expect(said.match(/held-back loss after epoch \d+: [\d.]+ \(95th percentile [\d.]+\)/g)).toHaveLength(3);
    expect(said).toContain('stopped by epochs');
    expect(importDecoder(new Uint8Array(await readFile(held))).meta.training).toMatchObject({ stoppedBy: 'epochs', heldBackLoss: expect.any(Number) });

    const calib = join(dir, 'calib.json');
    // The clean folder was embedded by train: calibrate takes every embedding from the cache.
    const stderr = vi.spyOn(process.stderr, 'write');
    expect(await run('calibrate', '--encoder', enc, '--decoder', dec, '--images', join(dir, 'clean'), '--out', calib, '--fpr', '0.1', '--holdout', '0.25')).toBe(0);
    const calibration = JSON.parse(await readFile(calib, 'utf8')) as { calibration: { threshold: number; n: number }; heldOut: { n: number; fpr: number }; decoder: { sha256: string } };
    expect(calibration.calibration.n + calibration.heldOut.n).toBe(48);
    expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/48 embeddings of size 128 \(48 from the cache\)/);
    stderr.mockRestore();
    expect(calibration.heldOut.n).toBe(12);
    expect(calibration.decoder.sha256).toBe(sha(decBytes));

    const reportPath = join(dir, 'report.json');
    expect(await run('scan', '--encoder', enc, '--decoder', dec, '--calibration', calib, '--images', join(dir, 'suspect'), '--out', reportPath)).toBe(0);
    const report = JSON.parse(await readFile(reportPath, 'utf8')) as ScanReport;
    expect(report.format).toBe('dede-scan-report');
    expect(report.encoder.sha256).toBe(sha(tinyEncoderBytes()));
    expect(report.decoder.sha256).toBe(sha(decBytes));
    // How the decoder's training ended rides in the report (a 3-epoch run with no held-back images).
    expect(report.decoder.training).toMatchObject({ stoppedBy: 'epochs', epochs: 3, convergedAtEpoch: null, heldBackLoss: null });
    expect(report.encoder.readout).toMatchObject({ output: 'embedding', pooling: 'none', dim: 128 });
    expect(report.images.map((r) => r.path).sort()).toEqual(
      Array.from({ length: 12 }, (_, i) => (i % 3 ? `s${i}.png` : `sub/s${i}.png`)).sort(),
    );
    expect(report.unreadable.map((u) => u.path)).toEqual(['broken.png', 'empty.jpg', 'notes.txt']);
    expect(report.unreadable.find((u) => u.path === 'empty.jpg')!.reason).toMatch(/empty file/);
    // The fused verdict: every component kept, flagged iff the combined p-value ≤ the target FPR.
    expect(report.settings['verdict']).toMatchObject({ kind: 'fused', targetFpr: 0.1, fusion: 'bonferroni', referenceImages: 48, gate: { k: 3, level: 0.15 } });
    // The collapse gate stays shut here: the suspect folder is drawn from the same generator as the
    // clean reference (no trigger, no backdoor), so no more of its images beat every reference image
    // on the collapse score than a clean folder does, and the decoder gets the whole of α.
    const { weights, gate } = report.settings['verdict'] as { weights: { dede: number; collapse: number }; gate: { open: boolean; floorHits: number; needed: number } };
    expect(gate.open).toBe(false);
    expect(gate.floorHits).toBeLessThan(gate.needed);
    expect(weights).toEqual({ dede: 1, collapse: 0 });
    for (const r of report.images) {
      expect(r.flagged).toBe(r.pValue <= 0.1);
      // −log10 of the fused p-value; beyond every reference image (p at its floor) it keeps ranking.
      const plain = -Math.log10(Math.min(r.decoderPValue! / weights.dede, weights.collapse > 0 ? r.collapsePValue! / weights.collapse : Infinity));
      expect(r.score).toBeGreaterThanOrEqual(plain - 1e-6);
      if (r.score > plain + 1e-6) expect(r.flagged).toBe(true);
      expect(r.pValue).toBeGreaterThan(0);
      expect(r.pValue).toBeLessThanOrEqual(1);
      expect(r.dedeScore).toBeGreaterThan(0);
      expect(r.collapseScore).toBeGreaterThan(-1);
      expect(r.collapseScore).toBeLessThanOrEqual(1);
    }
    expect(report.summary).toEqual({ scanned: 12, flagged: report.images.filter((r) => r.flagged).length, unreadable: 3 });

    // The calibration carries the clean folder's embeddings: the same verdict as embedding it again.
    expect(report.settings['verdict']).toMatchObject({ referenceSource: 'calibration' });
    const againPath = join(dir, 'again.json');
    expect(await run('scan', '--encoder', enc, '--decoder', dec, '--calibration', calib, '--images', join(dir, 'suspect'), '--out', againPath, '--reference', join(dir, 'clean'))).toBe(0);
    const again = JSON.parse(await readFile(againPath, 'utf8')) as ScanReport;
    expect(again.settings['verdict']).toMatchObject({ referenceSource: 'folder', referenceImages: 48 });
    expect(again.images.map((r) => [r.path, r.flagged])).toEqual(report.images.map((r) => [r.path, r.flagged]));
    again.images.forEach((r, i) => {
      expect(r.collapseScore).toBeCloseTo(report.images[i]!.collapseScore!, 6);
      expect(r.pValue).toBeCloseTo(report.images[i]!.pValue, 9);
    });

    // Decoder score alone: flags follow the calibrated threshold.
    const plainPath = join(dir, 'plain.json');
    expect(await run('scan', '--encoder', enc, '--decoder', dec, '--calibration', calib, '--images', join(dir, 'suspect'), '--out', plainPath, '--no-collapse')).toBe(0);
    const plain = JSON.parse(await readFile(plainPath, 'utf8')) as ScanReport;
    const w = reportComponentWeights(plain.calibration);
    expect(w.semantic + w.lowPass + w.flip).toBeCloseTo(1, 12);
    for (const r of plain.images) {
      expect(r.flagged).toBe(r.score > plain.threshold);
      expect(r.collapseScore).toBeUndefined();
      // decoderScore is the content score: the weighted mean of its components' z (docs/ARCHITECTURE.md §5.3.1).
      expect(r.decoderScore).toBeCloseTo(w.semantic * r.semanticZ! + w.lowPass * r.lowPassZ! + w.flip * r.flipZ!, 9);
      expect(r.flipZ).toBeGreaterThanOrEqual(0);
      expect(r.medianPatchError).toBeGreaterThan(0);
    }
    expect(plain.calibration['scoreKind']).toMatchObject({ kind: 'content', scale: { images: calibration.calibration.n } });

    // A calibration made before the content score: scanned by the median patch error it was fitted on, with a note.
    const legacyPath = join(dir, 'legacy-calib.json');
    const legacyScores = plain.images.map((r) => r.medianPatchError!).concat(plain.images.map((r) => r.medianPatchError! * 0.9));
    const file = JSON.parse(await readFile(calib, 'utf8')) as Record<string, unknown>;
    await writeFile(legacyPath, JSON.stringify({ ...file, calibration: calibrate(legacyScores, { method: 'fpr', target: 0.1 }, { kind: 'median' }) }));
    const legacyOut = join(dir, 'legacy.json');
    const legacyErr = vi.spyOn(process.stderr, 'write');
    expect(await run('scan', '--encoder', enc, '--decoder', dec, '--calibration', legacyPath, '--images', join(dir, 'suspect'), '--out', legacyOut, '--no-collapse')).toBe(0);
    expect(legacyErr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/predates the content score; judging by the median patch error .*dede calibrate again/);
    legacyErr.mockRestore();
    const legacy = JSON.parse(await readFile(legacyOut, 'utf8')) as ScanReport;
    legacy.images.forEach((r, i) => {
      expect(r.decoderScore).toBe(r.medianPatchError);
      expect(r.semanticZ).toBeUndefined();
      expect(r.medianPatchError).toBeCloseTo(plain.images[i]!.medianPatchError!, 9);
    });

    const csvPath = join(dir, 'report.csv');
    expect(await run('scan', '--encoder', enc, '--decoder', dec, '--calibration', calib, '--images', join(dir, 'suspect'), '--out', csvPath)).toBe(0);
    const rows = Papa.parse<Record<string, string>>(await readFile(csvPath, 'utf8'), { header: true, skipEmptyLines: true }).data;
    expect(rows).toHaveLength(12);
    expect(Number(rows[0]!['score'])).toBeCloseTo(report.images[0]!.score, 10);
    expect(Number(rows[0]!['semanticZ'])).toBeCloseTo(report.images[0]!.semanticZ!, 10);
    expect(Number(rows[0]!['medianPatchError'])).toBeCloseTo(report.images[0]!.medianPatchError!, 10);
  });

  it('refuses bad input with a message and a non-zero code', async () => {
    expect(await run('scan', '--encoder', join(dir, 'nope.onnx'), '--decoder', 'x', '--calibration', 'y', '--images', dir, '--out', 'z')).toBe(1);
    expect(await run('train', '--bogus')).toBe(2);
    expect(await run('frobnicate')).toBe(2);
    await writeFile(join(dir, 'fake.onnx'), 'hello');
    expect(await run('calibrate', '--encoder', join(dir, 'fake.onnx'), '--decoder', 'x', '--images', dir, '--out', 'z')).toBe(1);
  });

  it('asks for --output when two outputs qualify and nothing decides; follows config.json, --output and the decoder', async () => {
    await mkdir(join(dir, 'vit'));
    const enc = join(dir, 'vit', 'model.onnx');
    await writeFile(enc, vitModelBytes());
    await writeFile(join(dir, 'vit', 'preprocessor_config.json'), PREPROCESSOR_CONFIG);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await run('train', '--encoder', enc, '--images', join(dir, 'clean'), '--out', join(dir, 'never.onnx'))).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain(
        "the model has 2 candidate outputs ('last_hidden_state' [batch_size, 17, 16] (CLS token (token 0) or mean of the patch tokens (1…T−1)), 'pooler_output' [batch_size, 16]) and no config.json says which one is the embedding: choose one. Give it with --output NAME[:pooling], one of: last_hidden_state:cls, last_hidden_state:patch-mean, pooler_output.",
      );
      expect(await run('train', '--encoder', enc, '--images', join(dir, 'clean'), '--out', join(dir, 'never.onnx'), '--output', 'last_hidden_state')).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain('--output: \'last_hidden_state\' [batch_size, 17, 16] needs a pooling: last_hidden_state:cls or last_hidden_state:patch-mean.');
    } finally {
      stderr.mockRestore();
    }
    expect((await loadCliEncoder(enc, {}, { output: 'pooler_output' })).readout).toEqual({ output: 'pooler_output', pooling: 'none', dim: 16, reason: 'chosen with --output.' });
    await writeFile(join(dir, 'vit', 'config.json'), JSON.stringify({ model_type: 'dinov2' }));
    expect((await loadCliEncoder(enc, {})).readout).toMatchObject({ output: 'last_hidden_state', pooling: 'cls', dim: 16 });

    const dec = join(dir, 'vit-decoder.onnx');
    expect(await run('train', '--encoder', enc, '--images', join(dir, 'clean'), '--out', dec, '--epochs', '1', '--batch', '16', '--output', 'last_hidden_state:patch-mean')).toBe(0);
    expect(importDecoder(new Uint8Array(await readFile(dec))).meta.encoder).toMatchObject({ output: 'last_hidden_state', readout: { output: 'last_hidden_state', pooling: 'patch-mean', dim: 16, reason: 'chosen with --output.' } });
    // Without --output, calibrate reads the embedding the decoder was trained on, not config.json's default.
    const calib = join(dir, 'vit-calib.json');
    expect(await run('calibrate', '--encoder', enc, '--decoder', dec, '--images', join(dir, 'clean'), '--out', calib)).toBe(0);
    expect((JSON.parse(await readFile(calib, 'utf8')) as { encoder: ScanReport['encoder'] }).encoder.readout).toMatchObject({ output: 'last_hidden_state', pooling: 'patch-mean', dim: 16 });
    expect(await run('calibrate', '--encoder', enc, '--decoder', dec, '--images', join(dir, 'clean'), '--out', calib, '--output', 'last_hidden_state:cls')).toBe(2);
  });

  it('is runnable as `npx dede`', async () => {
    const { stdout } = await promisify(execFile)('npx', ['dede', '--help'], { cwd: join(__dirname, '..', '..') });
    expect(stdout).toMatch(/dede train/);
    expect(stdout).toMatch(/dede scan/);
  });
});
