// Sharded scans end to end on a synthetic fixture: one unsharded scan against 4 shards + merge, a
// resumed part, and the merges that must be refused.
import { createHash } from 'node:crypto';
import { access, mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Papa from 'papaparse';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ScanReport } from '../core/report/scan-report';
import { pairWithWhole, runQuiet, trainedFixture, writePng } from './cli-fixture';
import { parseShard, shardOf, type PartLine } from './shard-part';

let dir = '';
let enc = '';
let dec = '';
let calib = '';
const SHARDS = 4;
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

const scanArgs = () => ['scan', '--encoder', enc, '--decoder', dec, '--calibration', calib, '--images', join(dir, 'suspect')];
const part = (i: number) => join(dir, `part-${i}.jsonl`);
const readJson = async (p: string) => JSON.parse(await readFile(p, 'utf8')) as ScanReport;
const lines = async (p: string) => (await readFile(p, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as PartLine);
const exists = (p: string) => access(p).then(() => true, () => false);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dede-shards-'));
  ({ enc, dec, calib } = await trainedFixture(dir));
  await mkdir(join(dir, 'suspect', 'sub'), { recursive: true });
  for (let i = 0; i < 40; i++) await writePng(join(dir, 'suspect', i % 4 ? '' : 'sub', `s${i}.png`), 100 + i);
  await writeFile(join(dir, 'suspect', 'broken.png'), 'not really a png');
  expect((await runQuiet(...scanArgs(), '--out', join(dir, 'whole.json'))).code).toBe(0);
  for (let i = 0; i < SHARDS; i++) expect((await runQuiet(...scanArgs(), '--shard', `${i}/${SHARDS}`, '--out', part(i))).code).toBe(0);
}, 300_000);

describe('shards', () => {
  it('assigns files by the first 48 bits of their SHA-256', () => {
    // sha256("abc") starts ba7816bf8f01 = 204_982_570_012_417 (Python: int('ba7816bf8f01', 16) % 4 == 1).
    expect(shardOf(sha('abc'), 4)).toBe(1);
    expect(shardOf(sha('abc'), 64)).toBe(1);
    expect(parseShard('3/4')).toEqual({ index: 3, count: 4 });
    expect(() => parseShard('4/4')).toThrow('--shard must be I/N with 0 ≤ I < N (shards count from 0), got 4/4.');
    expect(() => parseShard('1-4')).toThrow(/--shard must be I\/N/);
  });

  it('4 shards + merge give the unsharded scan’s rows, scores and (where the gates agree) flags', async () => {
    const whole = await readJson(join(dir, 'whole.json'));
    expect((await runQuiet('merge', ...[3, 1, 0, 2].map(part), '--out', join(dir, 'merged.json'))).code).toBe(0);
    const merged = await readJson(join(dir, 'merged.json'));
    expect(merged.format).toBe('dede-scan-report');
    expect(merged.encoder.sha256).toBe(whole.encoder.sha256);
    expect(merged.decoder.sha256).toBe(whole.decoder.sha256);
    expect(merged.threshold).toBe(whole.threshold);
    // Every image once, and the unreadable file once.
    expect(merged.images.map((r) => r.path).sort()).toEqual(whole.images.map((r) => r.path).sort());
    expect(merged.images).toHaveLength(40);
    expect(merged.unreadable).toEqual(whole.unreadable);
    expect(merged.summary).toEqual({ scanned: 40, flagged: merged.images.filter((r) => r.flagged).length, unreadable: 1 });

    // Each part holds exactly the files whose SHA-256 falls in its shard.
    for (let i = 0; i < SHARDS; i++) {
      for (const l of await lines(part(i))) {
        if (l.kind !== 'result') continue;
        expect(sha(await readFile(join(dir, 'suspect', l.image.path)))).toBe(l.sha256);
        expect(shardOf(l.sha256, SHARDS)).toBe(i);
      }
    }

    const verdict = merged.settings['verdict'] as { kind: string; shardCount: number; shards: { index: number; scanned: number; verdict: { gate: { open: boolean } | null; weights: unknown } }[] };
    expect(verdict.kind).toBe('sharded');
    expect(verdict.shardCount).toBe(SHARDS);
    expect(verdict.shards.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    expect(verdict.shards.reduce((s, p) => s + p.scanned, 0)).toBe(40);
    const wholeGate = (whole.settings['verdict'] as { gate: { open: boolean } }).gate;

    // Per image: the decoder score, the paper's score and the decoder p-value depend on the image and
    // the calibration alone (where a decoder leaves patches visible, their random masks are seeded by
    // the file's SHA-256, not by the batch it was scored in: scorer.test.ts): equal to the last bit. The collapse score and its p-value compare an
    // image with its nearest neighbours in the set it was judged in, the shard, so they differ.
    const shardOfImage = new Map<string, number>();
    for (let i = 0; i < SHARDS; i++) for (const l of await lines(part(i))) if (l.kind === 'result') shardOfImage.set(l.image.path, i);
    let sameGate = 0;
    for (const [r, w] of pairWithWhole(merged, whole)) {
      expect(r.flagged).toBe(r.pValue <= 0.1);
      const gate = verdict.shards[shardOfImage.get(r.path)!]!.verdict.gate!;
      // With the gate shut in both, the verdict is the decoder p-value at the whole α: identical flags.
      if (!gate.open && !wholeGate.open) {
        sameGate++;
        expect(r.pValue).toBe(w.decoderPValue);
        expect(r.flagged).toBe(w.flagged);
      }
    }
    // The clean synthetic folder shows no collapse, whole or in shards: every flag is compared.
    expect(wholeGate.open).toBe(false);
    expect(sameGate).toBe(40);
    // The folder's flag rate (all images are clean: its FPR) is the unsharded one.
    expect(Math.abs(merged.summary.flagged - whole.summary.flagged) / 40).toBeLessThanOrEqual(0.01);

    // CSV: the same rows.
    expect((await runQuiet('merge', ...[0, 1, 2, 3].map(part), '--out', join(dir, 'merged.csv'))).code).toBe(0);
    const rows = Papa.parse<Record<string, string>>(await readFile(join(dir, 'merged.csv'), 'utf8'), { header: true, skipEmptyLines: true }).data;
    expect(rows.map((r) => r['path']).sort()).toEqual(merged.images.map((r) => r.path).sort());
    const first = merged.images.find((r) => r.path === rows[0]!['path'])!;
    expect(Number(rows[0]!['decoderScore'])).toBe(first.decoderScore);
  });

  it('resumes a cut part without scoring again what is done, and skips a complete one', async () => {
    const text = await readFile(part(1), 'utf8');
    const all = text.split('\n');
    const imageLines = all.filter((l) => l.includes('"kind":"image"'));
    expect(imageLines.length).toBeGreaterThanOrEqual(3);
    // The header, two scored images, and half of the third: a scan stopped mid-write.
    const cutAt = all.indexOf(imageLines[2]!);
    const cut = join(dir, 'cut-1.jsonl');
    await writeFile(cut, `${all.slice(0, cutAt).filter((l) => !l.includes('"kind":"unreadable"')).join('\n')}\n${imageLines[2]!.slice(0, 40)}`);
    const refused = await runQuiet('merge', part(0), cut, part(2), part(3), '--out', join(dir, 'never.json'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`dede merge: ${cut}: shard 1/4 is not complete (it has no verdict line; the scan stopped early): run dede scan --shard 1/4 with --out ${cut} again to finish it.`);
    expect(await exists(join(dir, 'never.json'))).toBe(false);

    const resumed = await runQuiet(...scanArgs(), '--shard', '1/4', '--out', cut);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`shard 1/4: resuming ${cut}: 2 images scored already (a cut last line dropped)`);
    expect(resumed.stderr).toContain(`${imageLines.length - 2} of this shard to scan, 2 done before`);
    const results = (ls: PartLine[]) => ls.filter((l) => l.kind === 'result' || l.kind === 'verdict').map((l) => (l.kind === 'result' ? l.image : l.kind === 'verdict' ? { ...l, verdict: { ...l.verdict } } : l));
    expect(results(await lines(cut))).toEqual(results(await lines(part(1))));

    const again = await runQuiet(...scanArgs(), '--shard', '1/4', '--out', cut);
    expect(again.stderr).toContain(`shard 1/4: ${cut} is complete already; nothing to do`);
    expect(results(await lines(cut))).toEqual(results(await lines(part(1))));

    const other = await runQuiet(...scanArgs(), '--shard', '2/4', '--out', cut);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(new RegExp(`holds a part of another scan \\(shard 1/4 of .*\\), not of this one \\(shard 2/4 of .*\\); give another --out, or delete it to start again\\.`));
  });

  it('refuses a missing shard, a shard given twice and a part of another model, writing nothing', async () => {
    const out = join(dir, 'bad.json');
    const missing = await runQuiet('merge', part(0), part(1), part(3), '--out', out);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('dede merge: 1 of 4 shards are missing: 2/4; scan them (dede scan --shard I/4) and merge every part. Nothing was written.');

    const twice = await runQuiet('merge', part(0), part(1), part(2), part(3), part(2), '--out', out);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`dede merge: Shard 2/4 is given twice (${part(2)} and ${part(2)}); give each shard's part once. Nothing was written.`);

    // Shard 3 as scanned with another decoder (and another encoder): its header names their SHA-256.
    for (const [field, what] of [['decoderSha256', 'decoder (SHA-256)'], ['encoderSha256', 'encoder (SHA-256)']] as const) {
      const ls = await lines(part(3));
      const header = ls[0]!;
      if (header.kind !== 'header') throw new Error('no header');
      const foreign = join(dir, `foreign-${field}.jsonl`);
      const otherSha = sha(`another ${field}`);
      await writeFile(foreign, [{ ...header, key: { ...header.key, [field]: otherSha } }, ...ls.slice(1)].map((l) => JSON.stringify(l)).join('\n') + '\n');
      const mixed = await runQuiet('merge', part(0), part(1), part(2), foreign, '--out', out);
      expect(mixed.code).toBe(1);
      expect(mixed.stderr).toContain(`dede merge: ${foreign} was scanned with another ${what} than ${part(0)} ("${otherSha}" vs "${header.key[field]}"); merge only the parts of one scan. Nothing was written.`);
    }

    const split = await runQuiet('merge', part(0), join(dir, 'whole.json'), '--out', out);
    expect(split.code).toBe(1);
    expect(split.stderr).toContain(`is not a dede scan part`);
    expect(await exists(out)).toBe(false);
    expect(await exists(`${out}.partial`)).toBe(false);
    const usage = await runQuiet('merge', part(0), '--out', join(dir, 'r.txt'));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain(`--out must end in .json, .csv or .html, got ${join(dir, 'r.txt')}.`);
  });
});
