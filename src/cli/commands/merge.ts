// `dede merge PART…`: the parts of a sharded scan (dede scan --shard I/N) joined into one report.
//
// Each image keeps the verdict its shard gave it: its decoder p-value is the same as in an unsharded
// scan (it is the image's score ranked among the calibration's clean scores, whatever else is in the
// folder), and its collapse p-value and the collapse gate were computed within its shard, a random
// sample of the folder by file hash with the folder's poison rate.
//
// Why the folder-level FPR still holds: within any shard, a clean image's fused p-value is a
// conformal p-value against the same clean calibration, so P(flagged) ≤ α for that image whichever
// shard it fell in and whichever way its shard's gate went (set-scan.ts bounds the gate's effect).
// The folder's false-positive rate is the mean, over its clean images, of those flag indicators; by
// linearity of expectation its expectation is the mean of the per-image probabilities, each ≤ α, so
// E[FPR] ≤ α over the whole folder. No correction across shards is needed: the guarantee is per image,
// not per shard, and merging only concatenates. (What sharding changes is power, not validity: a
// shard's collapse gate sees 1/N of the folder's triggered images, against a threshold set for 1/N of
// its size; the report lists every shard's gate so a shard that saw no collapse is visible.)
//
// The report is written as it is read: one part in memory at a time (two passes: the counts and
// checks, then the images), so memory is bounded by a shard, not by the folder. The HTML report keeps
// the top flagged images and fixed histogram bins, not the images (docs/ARCHITECTURE.md §2.1).
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { combinePValues, DEFAULT_FUSION, flaggedAt, type FusionMethod } from '../../core/dede/fusion';
import { DEFAULT_SET_WEIGHTS, type CollapseGate } from '../../core/dede/set-scan';
import { scanReportCsvParts, scanReportJsonParts, type ScannedImage, type ScanReport } from '../../core/report/scan-report';
import { UsageError } from '../args';
import { cliHtmlReport, ReportDigest, ScoreRange, verdictThreshold, type VerdictRow } from '../html-report';
import { parsePart, shardOf, type PartHeader, type PartKey, type PartVerdict } from '../shard-part';
import { errorText } from '../../core/runtime/error-text';

export const MERGE_HELP = `dede merge — join the parts of a sharded scan into one report

Usage: dede merge PART… --out report.json|.csv|.html

  PART…                the part files of dede scan --shard I/N, one per shard 0 … N−1, each complete
  --out FILE           the merged report: .json or .csv (as dede scan writes it), every image once
                       with the verdict its shard gave it and each shard's collapse gate in
                       settings.verdict.shards; or .html, one self-contained page: the summary, the
                       score histogram, every shard's gate and the top flagged images (thumbnails
                       read from the scanned folder where this machine can reach it)

The parts must come from one scan: the same folder, encoder, decoder, calibration and settings,
every shard once.
`;

interface PartSummary {
  readonly file: string;
  readonly header: PartHeader;
  readonly verdict: PartVerdict;
  readonly unreadable: readonly { path: string; reason: string }[];
  /** Images whose flag would change had this shard's collapse gate gone the other way. */
  readonly gateDependent: number;
  readonly scores: ScoreRange;
}

type Gate = CollapseGate | null | undefined;

export async function mergeCommand(argv: readonly string[]): Promise<void> {
  let values: { out?: string | undefined };
  let files: string[];
  try {
    const parsed = parseArgs({ args: [...argv], options: { out: { type: 'string' } }, strict: true, allowPositionals: true });
    values = parsed.values;
    files = parsed.positionals;
  } catch (err) {
    throw new UsageError(errorText(err));
  }
  const out = values.out;
  if (!out) throw new UsageError('--out is required.');
  if (!/\.(json|csv|html)$/i.test(out)) throw new UsageError(`--out must end in .json, .csv or .html, got ${out}.`);
  if (files.length === 0) throw new UsageError('Give the part files to merge.');

  // Pass 1: every part checked and counted, its images not kept.
  const parts = files.map(summarize);
  checkSameScan(parts);
  const byIndex = checkEveryShardOnce(parts);

  const first = byIndex[0]!.header;
  const shards = byIndex.map((p) => ({ index: p.header.shard.index, file: p.file, scanned: p.verdict.scanned, flagged: p.verdict.flagged, unreadable: p.verdict.unreadable, gateDependent: p.gateDependent, device: p.header.head.settings['device'] ?? null, verdict: p.verdict.verdict }));
  // Shards may run on different machines (--device cuda where a GPU is): every distinct choice.
  const devices = [...new Map(shards.map((s) => [JSON.stringify(s.device), s.device])).values()];
  const gates = gateAgreement(byIndex);
  const head: Omit<ScanReport, 'images'> = {
    ...first.head,
    createdAt: new Date().toISOString(),
    settings: { ...first.head.settings, device: devices.length === 1 ? devices[0] : devices, verdict: { kind: 'sharded', targetFpr: first.key.targetFpr, shardCount: byIndex.length, gates, shards } },
    summary: {
      scanned: shards.reduce((s, p) => s + p.scanned, 0),
      flagged: shards.reduce((s, p) => s + p.flagged, 0),
      unreadable: shards.reduce((s, p) => s + p.unreadable, 0),
    },
    unreadable: byIndex.flatMap((p) => p.unreadable).sort((a, b) => a.path.localeCompare(b.path)),
  };

  // Pass 2: the images, one part at a time.
  const rows = (function* (): Generator<readonly VerdictRow[]> {
    for (const p of byIndex) yield imagesOf(p);
  })();
  let note = '';
  if (/\.html$/i.test(out)) {
    const threshold = verdictThreshold(firstVerdictKind(byIndex), first.key.targetFpr, first.head.threshold);
    const range = new ScoreRange();
    for (const p of byIndex) range.merge(p.scores);
    const digest = new ReportDigest(range.range(threshold), threshold);
    for (const chunk of rows) digest.add(chunk);
    const report = await cliHtmlReport({
      head,
      digest,
      root: first.key.folder,
      shards: byIndex.map((p, i) => ({ index: p.header.shard.index, file: p.file, scanned: p.verdict.scanned, flagged: p.verdict.flagged, gate: (p.verdict.verdict['gate'] as Gate) ?? null, gateDependent: shards[i]!.gateDependent })),
    });
    // Nothing is written before every part has been read whole.
    writeStreamed(out, [report.html]);
    if (report.missing > 0) note = `; ${report.missing} of the top images not readable under ${first.key.folder} on this machine (shown without a thumbnail)`;
  } else {
    writeStreamed(out, /\.csv$/i.test(out) ? scanReportCsvParts(mapChunks(rows)) : scanReportJsonParts(head, mapChunks(rows)));
  }
  process.stderr.write(`${byIndex.length} shards merged: ${head.summary.flagged} of ${head.summary.scanned} images flagged; ${describeGates(gates)}; ${head.summary.unreadable} unreadable${note}\n`);
  process.stdout.write(`${out}\n`);
}

function* mapChunks(rows: Iterable<readonly VerdictRow[]>) {
  for (const chunk of rows) yield chunk.map((r) => r.image);
}

/** Written beside the report and renamed when whole: a part found damaged half-way leaves no report. */
function writeStreamed(out: string, pieces: Iterable<string>): void {
  const partial = `${out}.partial`;
  const fd = openSync(partial, 'w');
  try {
    for (const piece of pieces) writeSync(fd, piece);
    closeSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(partial, { force: true });
    throw err;
  }
  renameSync(partial, out);
}

const firstVerdictKind = (parts: readonly PartSummary[]): unknown => parts.find((p) => p.verdict.scanned > 0)?.verdict.verdict['kind'];

/**
 * Whether the shards' collapse gates agree and, where they do not, how many flags in the shards
 * whose gate went the minority way depend on it (docs/ARCHITECTURE.md §2.1): an unsharded scan has
 * one gate, most likely the majority's, so these are the flags a merge may give otherwise than it.
 */
export function gateAgreement(parts: readonly Pick<PartSummary, 'verdict' | 'gateDependent'>[]): { open: number; shut: number; agree: boolean; minority: 'open' | 'shut' | null; minorityShards: number; flagsDependingOnGate: number } {
  const gateOf = (p: Pick<PartSummary, 'verdict'>) => p.verdict.verdict['gate'] as Gate;
  const open = parts.filter((p) => gateOf(p)?.open === true);
  const shut = parts.filter((p) => gateOf(p)?.open === false);
  if (open.length === 0 || shut.length === 0) return { open: open.length, shut: shut.length, agree: true, minority: null, minorityShards: 0, flagsDependingOnGate: 0 };
  // A tie has no majority: every shard's gate-dependent flags are counted.
  const minority = open.length < shut.length ? open : shut.length < open.length ? shut : [...open, ...shut];
  return {
    open: open.length,
    shut: shut.length,
    agree: false,
    minority: open.length < shut.length ? 'open' : shut.length < open.length ? 'shut' : null,
    minorityShards: minority.length,
    flagsDependingOnGate: minority.reduce((s, p) => s + p.gateDependent, 0),
  };
}

function describeGates(g: ReturnType<typeof gateAgreement>): string {
  const counts = `collapse gate open in ${g.open}, shut in ${g.shut}`;
  if (g.agree) return counts;
  const which = g.minority === null ? `the shards split evenly: ${g.flagsDependingOnGate} flags depend on their shard's gate` : `${g.flagsDependingOnGate} flags in the ${g.minorityShards} shard${g.minorityShards === 1 ? '' : 's'} whose gate went ${g.minority} depend on it (an unsharded scan would likely have judged them as the majority did)`;
  return `${counts}: the shards' gates differ; ${which}`;
}

function readPart(file: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`Cannot read the part ${file}.`);
  }
  return parsePart(text, file);
}

function summarize(file: string): PartSummary {
  const part = readPart(file);
  const { index, count } = part.header.shard;
  const verdict = part.lines.find((l): l is PartVerdict => l.kind === 'verdict');
  if (!verdict || part.cut) throw new Error(`${file}: shard ${index}/${count} is not complete (it has no verdict line; the scan stopped early): run dede scan --shard ${index}/${count} with --out ${file} again to finish it.`);
  const results = part.lines.filter((l) => l.kind === 'result').length;
  if (results !== verdict.scanned) throw new Error(`${file}: ${results} image verdicts for the ${verdict.scanned} its shard counted; the part is damaged: delete it and scan shard ${index}/${count} again.`);
  const unreadable = part.lines.flatMap((l) => (l.kind === 'unreadable' ? [{ path: l.path, reason: l.reason }] : []));
  const images = part.lines.flatMap((l) => (l.kind === 'result' ? [l.image] : []));
  const scores = new ScoreRange();
  for (const r of images) scores.add(r.score);
  return { file, header: part.header, verdict, unreadable, gateDependent: gateDependentFlags(images, verdict.verdict), scores };
}

const KEY_NAMES: Record<keyof PartKey, string> = {
  folder: 'folder',
  encoderSha256: 'encoder (SHA-256)',
  decoderSha256: 'decoder (SHA-256)',
  calibrationSha256: 'calibration file (SHA-256)',
  rounds: 'scoring rounds',
  aggregate: 'score aggregate',
  targetFpr: 'target FPR',
  k: 'collapse neighbours (k)',
  reference: 'collapse reference',
};

/** Refuses a mix of scans: every part's models, calibration, folder and settings equal the first's. */
function checkSameScan(parts: readonly PartSummary[]): void {
  const first = parts[0]!;
  for (const p of parts.slice(1)) {
    for (const name of Object.keys(KEY_NAMES) as (keyof PartKey)[]) {
      const a = JSON.stringify(first.header.key[name]);
      const b = JSON.stringify(p.header.key[name]);
      if (a !== b) throw new Error(`${p.file} was scanned with another ${KEY_NAMES[name]} than ${first.file} (${b} vs ${a}); merge only the parts of one scan. Nothing was written.`);
    }
    if (p.header.shard.count !== first.header.shard.count) {
      throw new Error(`${p.file} is shard ${p.header.shard.index}/${p.header.shard.count} but ${first.file} is shard ${first.header.shard.index}/${first.header.shard.count}: the parts split the folder differently. Nothing was written.`);
    }
  }
}

/** The parts in shard order, each shard exactly once. */
function checkEveryShardOnce(parts: readonly PartSummary[]): PartSummary[] {
  const count = parts[0]!.header.shard.count;
  const byIndex: (PartSummary | undefined)[] = new Array(count).fill(undefined);
  for (const p of parts) {
    const seen = byIndex[p.header.shard.index];
    if (seen) throw new Error(`Shard ${p.header.shard.index}/${count} is given twice (${seen.file} and ${p.file}); give each shard's part once. Nothing was written.`);
    byIndex[p.header.shard.index] = p;
  }
  const missing = byIndex.flatMap((p, i) => (p ? [] : [`${i}/${count}`]));
  if (missing.length > 0) throw new Error(`${missing.length} of ${count} shards are missing: ${missing.join(', ')}; scan them (dede scan --shard I/${count}) and merge every part. Nothing was written.`);
  return byIndex as PartSummary[];
}

/** A part's image verdicts, each checked to belong to its shard (no image can be merged twice). */
function imagesOf(p: PartSummary): VerdictRow[] {
  const part = readPart(p.file);
  const { index, count } = p.header.shard;
  return part.lines.flatMap((l) => {
    if (l.kind !== 'result') return [];
    if (shardOf(l.sha256, count) !== index) throw new Error(`${p.file}: ${l.image.path} does not belong to shard ${index}/${count} by its SHA-256; the part is damaged: delete it and scan shard ${index}/${count} again. Nothing was written.`);
    return [{ image: l.image, sha256: l.sha256 }];
  });
}

/**
 * How many of a set's images would be flagged otherwise had its collapse gate gone the other way
 * (docs/ARCHITECTURE.md §2.1): with the gate shut an image is judged by its decoder p-value at the
 * whole α; open, by the decoder and collapse p-values fused (the weights and fusion folderVerdict
 * uses, scan-verdict.ts). 0 for a verdict without a gate (the decoder score alone, or an empty set).
 */
export function gateDependentFlags(images: readonly ScannedImage[], verdict: Readonly<Record<string, unknown>>): number {
  const gate = verdict['gate'] as CollapseGate | null | undefined;
  const alpha = verdict['targetFpr'];
  if (!gate || typeof alpha !== 'number') return 0;
  const method = (verdict['fusion'] as FusionMethod | undefined) ?? DEFAULT_FUSION;
  const opts = method === 'bonferroni' ? { method, weights: [DEFAULT_SET_WEIGHTS.dede, DEFAULT_SET_WEIGHTS.collapse] } : { method };
  let differ = 0;
  for (const r of images) {
    if (r.decoderPValue === undefined || r.collapsePValue === undefined) continue;
    const shut = flaggedAt(r.decoderPValue, alpha);
    const open = flaggedAt(combinePValues([r.decoderPValue, r.collapsePValue], opts), alpha);
    if (shut !== open) differ++;
  }
  return differ;
}
