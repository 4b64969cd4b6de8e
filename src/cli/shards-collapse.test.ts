// Sharded scans of a folder that shows a collapse (a group of images the encoder maps onto nearly one
// embedding, as a backdoor maps its triggered photos): the collapse gate opens in the whole folder
// and in every shard; the merged report (JSON and HTML) against the unsharded one; --device cuda.
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CollapseGate } from '../core/dede/set-scan';
import type { ScannedImage, ScanReport } from '../core/report/scan-report';
import { pairWithWhole, runQuiet, trainedFixture, writePng, writeRgbPng } from './cli-fixture';
import type { PartLine } from './shard-part';
import { randomProjection, tinyEncoderBytes } from '../testing/tiny-encoder';

let dir = '';
let scanArgs: string[] = [];
const SHARDS = 4;
const CLEAN = 100;
const COLLAPSED = 40;
const part = (i: number) => join(dir, `part-${i}.jsonl`);
const readJson = async (p: string) => JSON.parse(await readFile(p, 'utf8')) as ScanReport;
const lines = async (p: string) => (await readFile(p, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as PartLine);

/**
 * One picture in colour only (red and green in opposition, so its grey level is flat) plus small
 * per-image noise: the encoder (a random linear projection) sees the picture, so the group's
 * embeddings are nearly one; the pixel fingerprints (grey, mean removed) see only the noise, so no two members are
 * near-duplicates that the collapse score would leave out.
 */
function collapsedImage(seed: number): Uint8Array {
  let s = seed * 7919 + 17;
  const noise = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 12;
  const px = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++) {
      const v = 100 * Math.sin(x / 4) * Math.cos(y / 6);
      px[(y * 32 + x) * 3] = Math.round(127 + v + noise());
      px[(y * 32 + x) * 3 + 1] = Math.round(127 - v + noise());
      px[(y * 32 + x) * 3 + 2] = Math.round(127 + noise());
    }
  return px;
}

/** Whether this onnxruntime-node install carries the CUDA provider (it does not here). */
function cudaProviderInstalled(): boolean {
  const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
  const walk = (d: string): boolean => readdirSync(d, { withFileTypes: true }).some((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.startsWith('libonnxruntime_providers_cuda')));
  return existsSync(bin) && walk(bin);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dede-collapse-'));
  const { enc, dec, calib } = await trainedFixture(dir, tinyEncoderBytes(randomProjection(7)));
  await mkdir(join(dir, 'suspect', 'clean'), { recursive: true });
  await mkdir(join(dir, 'suspect', 'group'), { recursive: true });
  for (let i = 0; i < CLEAN; i++) await writePng(join(dir, 'suspect', 'clean', `p${i}.png`), 1000 + 13 * i);
  for (let i = 0; i < COLLAPSED; i++) await writeRgbPng(join(dir, 'suspect', 'group', `t${i}.png`), collapsedImage(i));
  scanArgs = ['scan', '--encoder', enc, '--decoder', dec, '--calibration', calib, '--images', join(dir, 'suspect')];
  for (const out of ['whole.json', 'whole.html']) {
    const r = await runQuiet(...scanArgs, '--out', join(dir, out), '--device', 'cuda');
    if (r.code !== 0) throw new Error(r.stderr);
  }
  for (let i = 0; i < SHARDS; i++) expect((await runQuiet(...scanArgs, '--shard', `${i}/${SHARDS}`, '--out', part(i))).code).toBe(0);
}, 300_000);

type ShardRecord = { index: number; scanned: number; flagged: number; gateDependent: number; verdict: { gate: CollapseGate | null; targetFpr: number } };
type Merged = { kind: string; gates: { open: number; shut: number; agree: boolean; flagsDependingOnGate: number }; shards: ShardRecord[] };

describe('sharded scan of a folder with a collapse', () => {
  it('opens the collapse gate in the whole folder and in every shard; merged rows, scores and flags match', async () => {
    const whole = await readJson(join(dir, 'whole.json'));
    const merged = await runQuiet('merge', ...[0, 1, 2, 3].map(part), '--out', join(dir, 'merged.json'));
    expect(merged.code).toBe(0);
    const m = await readJson(join(dir, 'merged.json'));
    const wholeGate = (whole.settings['verdict'] as { gate: CollapseGate }).gate;
    expect(wholeGate.open).toBe(true);
    const verdict = m.settings['verdict'] as Merged;
    expect(verdict.shards.map((s) => s.verdict.gate?.open)).toEqual([true, true, true, true]);
    expect(verdict.gates).toMatchObject({ open: 4, shut: 0, agree: true, flagsDependingOnGate: 0 });
    expect(merged.stderr).toContain(`4 shards merged: ${m.summary.flagged} of ${CLEAN + COLLAPSED} images flagged; collapse gate open in 4, shut in 0; 0 unreadable`);

    expect(m.images.map((r) => r.path).sort()).toEqual(whole.images.map((r) => r.path).sort());
    const differ = pairWithWhole(m, whole).filter(([r, w]) => r.flagged !== w.flagged).length;
    // Both gates open everywhere: the flags agree image by image.
    expect(differ).toBe(0);
    // The collapsed group is found whole, in the folder and in the shards.
    const group = (rs: readonly ScannedImage[]) => rs.filter((r) => r.path.startsWith('group/'));
    expect(group(m.images).every((r) => r.flagged)).toBe(true);
    expect(group(whole.images).every((r) => r.flagged)).toBe(true);
    // FPR on the clean photos: within 1 point of the unsharded scan's (here: equal).
    const fpr = (rs: readonly ScannedImage[]) => rs.filter((r) => r.path.startsWith('clean/') && r.flagged).length / CLEAN;
    expect(Math.abs(fpr(m.images) - fpr(whole.images))).toBeLessThanOrEqual(0.01);
    expect(fpr(whole.images)).toBeLessThanOrEqual(0.15);

    // Each shard's gate-dependent flags, recomputed here from its images' p-values: with the gate shut
    // an image is flagged at p_decoder ≤ α, open at min(p_decoder / 0.75, p_collapse / 0.25) ≤ α.
    for (const s of verdict.shards) {
      const alpha = s.verdict.targetFpr;
      const rows = (await lines(part(s.index))).flatMap((l) => (l.kind === 'result' ? [l.image] : []));
      const expected = rows.filter((r) => (r.decoderPValue! <= alpha) !== (Math.min(r.decoderPValue! / 0.75, r.collapsePValue! / 0.25) <= alpha)).length;
      expect(s.gateDependent).toBe(expected);
    }
  });

  it('writes one self-contained HTML report with every shard’s gate and the top flagged images', async () => {
    const out = join(dir, 'merged.html');
    const r = await runQuiet('merge', ...[2, 0, 3, 1].map(part), '--out', out);
    expect(r.code).toBe(0);
    const html = await readFile(out, 'utf8');
    const m = await readJson(join(dir, 'merged.json'));
    // Self-contained: no scripts, no external references; every image an inline PNG.
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link|<iframe|url\(/i);
    const srcs = [...html.matchAll(/\ssrc="([^"]*)"/g)].map((x) => x[1]!);
    expect(srcs.length).toBeGreaterThan(0);
    for (const src of srcs) expect(src).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    // The flagged count, and every shard's gate.
    expect(html).toContain(`<strong class="flag">${m.summary.flagged}</strong>`);
    const shards = /<section><h2>Shards<\/h2>.*?<\/section>/s.exec(html)![0];
    for (let i = 0; i < SHARDS; i++) expect(shards).toMatch(new RegExp(`<td class="num">${i}</td><td class="path"><code>[^<]*part-${i}\\.jsonl</code></td>.*?<strong>open</strong> <span class="muted">Collapse found: \\d+ scanned images`));
    // The top flagged images: the 24 highest verdict scores, in order, each with its thumbnail.
    const top = [...m.images].filter((x) => x.flagged).sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : 1)).slice(0, 24);
    const section = /<section><h2>Top flagged images<\/h2>.*?<\/section>/s.exec(html)![0];
    expect(section).toContain(`${top.length} of ${m.summary.flagged} flagged images`);
    expect([...section.matchAll(/<td class="path"><code>([^<]*)<\/code>/g)].map((x) => x[1])).toEqual(top.map((x) => x.path));
    expect(section.match(/<img class="px" src="data:image\/png/g)).toHaveLength(top.length);
    expect(html).toContain('<dd>dede CLI on ');
    expect(html).toContain(', no network use by the scan</dd>');
    expect(html).toContain('a command-line run has no Content-Security-Policy');
    // The histogram counts every image once.
    const bars = [...html.matchAll(/<title>scanned images: (\d+)<\/title>/g)].reduce((a, x) => a + Number(x[1]), 0);
    expect(bars).toBe(CLEAN + COLLAPSED);
  });

  it('writes the HTML report when images are not reachable, saying so for each', async () => {
    const m = await readJson(join(dir, 'merged.json'));
    const best = [...m.images].filter((x) => x.flagged).sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : 1))[0]!;
    const file = join(dir, 'suspect', best.path);
    await rename(file, `${file}.away`);
    try {
      const out = join(dir, 'away.html');
      const r = await runQuiet('merge', ...[0, 1, 2, 3].map(part), '--out', out);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`; 1 of the top images not readable under ${join(dir, 'suspect')} on this machine (shown without a thumbnail)`);
      const html = await readFile(out, 'utf8');
      const row = new RegExp(`<tr><td class="num">1</td><td><span class="muted">image not available on this machine</span></td><td class="path"><code>${best.path}</code>`);
      expect(html).toMatch(row);
      expect(html.match(/image not available on this machine/g)).toHaveLength(1);
      // A file changed since it was scanned is not shown as if it were the image judged.
      await writePng(file, 999);
      await runQuiet('merge', ...[0, 1, 2, 3].map(part), '--out', out);
      expect(await readFile(out, 'utf8')).toMatch(row);
    } finally {
      await rename(`${file}.away`, file);
    }
  });

  it('scans to HTML unsharded, and records where the encoder ran', async () => {
    const whole = await readJson(join(dir, 'whole.json'));
    const device = whole.settings['device'] as { requested: string; used: string; note: string };
    expect(device.requested).toBe('cuda');
    if (!cudaProviderInstalled()) {
      expect(device.used).toBe('cpu');
      expect(device.note).toMatch(/^CUDA execution provider not available in this onnxruntime-node build \(.+\): encoder on CPU$/);
    }
    const html = await readFile(join(dir, 'whole.html'), 'utf8');
    expect(html).toContain(`<strong class="flag">${whole.summary.flagged}</strong>`);
    expect(html).not.toContain('<h2>Shards</h2>');
    expect(html).toContain('<dt>device</dt><dd>{&quot;requested&quot;:&quot;cuda&quot;');
    const section = /<section><h2>Top flagged images<\/h2>.*?<\/section>/s.exec(html)![0];
    expect(section.match(/<img class="px" src="data:image\/png/g)).toHaveLength(Math.min(24, whole.summary.flagged));
    const bad = await runQuiet(...scanArgs, '--out', join(dir, 'x.json'), '--device', 'gpu');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--device must be cpu or cuda, got gpu.');
    const shardHtml = await runQuiet(...scanArgs, '--shard', '0/4', '--out', join(dir, 'p.html'));
    expect(shardHtml.code).toBe(2);
    expect(shardHtml.stderr).toContain('--shard writes a part file for dede merge, not a report');
  });
});
