// `dede scan --shard I/N`: scans the folder's files whose SHA-256 falls in shard I (shard-part.ts),
// appending to a part file as it goes so that a rerun with the same --out resumes, then judges the
// shard as a set (its collapse gate and fused verdict) and closes the part with that verdict.
// Every file is read and hashed to find its shard (cheap next to decoding); only the shard's files
// are decoded, embedded and scored.
import { createHash } from 'node:crypto';
import { appendFile, readFile, truncate, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Rows } from '../core/dede/collapse';
import { decodeRows, encodeRows, type CalibrationFile } from './calibration-file';
import { listImages, loadImageFiles, type Unreadable } from './node-images';
import { progressLine } from './progress';
import { decoderComponents, decoderScoring, folderVerdict, reportHead, type VerdictSettings } from './scan-verdict';
import { scoreLoadedImages } from './score-folder';
import type { ScoringInputs } from './scorer-options';
import { parsePart, partLine, shardOf, shardOfPath, PART_FORMAT, PART_VERSION, type PartHeader, type PartImage, type PartKey, type ShardSpec } from './shard-part';

/** Images decoded, embedded and scored at a time: what a crash can lose, and the memory held. */
const CHUNK = 512;

export interface ShardScanInputs {
  readonly out: string;
  readonly shard: ShardSpec;
  readonly inputs: ScoringInputs;
  readonly calibrationFile: CalibrationFile;
  readonly calibrationPath: string;
  readonly judge: VerdictSettings;
}

export async function scanShard({ out, shard, inputs, calibrationPath, calibrationFile, judge }: ShardScanInputs): Promise<void> {
  const folder = resolve(inputs.images);
  const key: PartKey = {
    folder,
    encoderSha256: inputs.encoder.sha256,
    decoderSha256: inputs.decoder.sha256,
    calibrationSha256: createHash('sha256').update(await readFile(calibrationPath)).digest('hex'),
    rounds: inputs.settings.rounds ?? 8,
    aggregate: inputs.settings.aggregate ?? null,
    targetFpr: judge.targetFpr,
    k: judge.k,
    reference: judge.reference ? (judge.reference.source === 'calibration' ? 'calibration' : `folder ${resolve(judge.reference.dir ?? '')}`) : null,
  };
  const label = `shard ${shard.index}/${shard.count}`;
  const done = new Map<string, PartImage>();
  const unreadable: Unreadable[] = [];
  const existing = await readFile(out, 'utf8').catch(() => null);
  if (existing !== null && existing !== '') {
    const part = parsePart(existing, out);
    const was = { shard: part.header.shard, key: part.header.key };
    if (JSON.stringify(was) !== JSON.stringify({ shard, key })) {
      throw new Error(`${out} holds a part of another scan (${describe(was.shard, was.key)}), not of this one (${describe(shard, key)}); give another --out, or delete it to start again.`);
    }
    if (part.lines.some((l) => l.kind === 'verdict')) {
      process.stderr.write(`${label}: ${out} is complete already; nothing to do\n`);
      process.stdout.write(`${out}\n`);
      return;
    }
    // Keep the scored images; a half-written verdict is written again. Results follow every image
    // line, so the images are a prefix of the file.
    let keep = 0;
    for (const line of part.lines) {
      if (line.kind === 'result') break;
      keep += Buffer.byteLength(JSON.stringify(line)) + 1;
      if (line.kind === 'image') done.set(line.path, line);
      if (line.kind === 'unreadable') unreadable.push({ path: line.path, reason: line.reason });
    }
    await truncate(out, keep);
    process.stderr.write(`${label}: resuming ${out}: ${done.size} images scored already${part.cut ? ' (a cut last line dropped)' : ''}\n`);
  } else {
    const header: PartHeader = { kind: 'header', format: PART_FORMAT, version: PART_VERSION, shard, key, head: reportHead(inputs, calibrationFile, 0, {}) };
    await writeFile(out, partLine(header));
  }

  // Which files are this shard's: every file is hashed, only the shard's are decoded.
  const { files, skipped } = await listImages(folder);
  const settled = new Set([...done.keys(), ...unreadable.map((u) => u.path)]);
  const pending: string[] = [];
  const newlyUnreadable: Unreadable[] = skipped.filter((u) => shardOfPath(u.path, shard.count) === shard.index && !settled.has(u.path));
  const hashing = progressLine(`${label}: hash`);
  for (let i = 0; i < files.length; i++) {
    const path = files[i]!;
    hashing.update(i + 1, files.length);
    const bytes = await readFile(join(folder, path)).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    if (bytes instanceof Error) {
      if (shardOfPath(path, shard.count) === shard.index && !settled.has(path)) newlyUnreadable.push({ path, reason: `cannot be read: ${bytes.message}` });
      continue;
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (shardOf(sha, shard.count) !== shard.index) continue;
    const before = done.get(path);
    if (before && before.sha256 !== sha) throw new Error(`${path} changed since ${out} scored it (its SHA-256 differs); delete ${out} and scan the shard again.`);
    if (!settled.has(path)) pending.push(path);
  }
  hashing.done(`${files.length} files hashed: ${pending.length} of this shard to scan, ${done.size} done before`);
  if (newlyUnreadable.length > 0) await appendFile(out, newlyUnreadable.map((u) => partLine({ kind: 'unreadable', ...u })).join(''));
  unreadable.push(...newlyUnreadable);

  for (let start = 0; start < pending.length; start += CHUNK) {
    const chunk = pending.slice(start, start + CHUNK);
    const images = await loadImageFiles(folder, chunk, inputs.encoder.preprocessing);
    const scored = await scoreLoadedImages(images, inputs.encoder, inputs.decoder, inputs.settings, decoderScoring(judge.cal), `${label} (${start + chunk.length} of ${pending.length})`);
    const lines: string[] = images.unreadable.map((u) => partLine({ kind: 'unreadable', ...u }));
    const components = decoderComponents(scored, judge.cal);
    scored.paths.forEach((path, i) => {
      const row: PartImage = {
        kind: 'image',
        path,
        sha256: images.sha256[i]!,
        decoderScore: scored.scores[i]!,
        dedeScore: scored.dedeScores[i]!,
        components: components[i]!,
        embedding: encodeRows(rowOf(scored.embeddings, i)),
        fingerprint: encodeRows(rowOf(scored.fingerprints, i)),
      };
      done.set(path, row);
      lines.push(partLine(row));
    });
    unreadable.push(...images.unreadable);
    await appendFile(out, lines.join(''));
  }

  // The shard judged as a set, in path order (the unsharded scan's order).
  const rows = [...done.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const { images, verdict } = folderVerdict(
    {
      paths: rows.map((r) => r.path),
      scores: Float64Array.from(rows, (r) => r.decoderScore),
      dedeScores: Float64Array.from(rows, (r) => r.dedeScore),
      // A part written before the content score was scored by the median patch error alone.
      components: rows.map((r) => r.components ?? { medianPatchError: r.decoderScore }),
      embeddings: stack(rows.map((r) => r.embedding), 'embedding'),
      fingerprints: stack(rows.map((r) => r.fingerprint), 'fingerprint'),
    },
    judge,
  );
  const flagged = images.filter((r) => r.flagged).length;
  const closing = images.map((image, i) => partLine({ kind: 'result', sha256: rows[i]!.sha256, image }));
  closing.push(partLine({ kind: 'verdict', scanned: images.length, flagged, unreadable: unreadable.length, verdict }));
  await appendFile(out, closing.join(''));
  const gate = verdict['gate'] as { open: boolean; floorHits: number; needed: number } | null | undefined;
  process.stderr.write(`${label}: ${flagged} of ${images.length} images flagged${gate ? ` (collapse gate ${gate.open ? 'open' : 'shut'}: ${gate.floorHits} floor hits, ${gate.needed} needed)` : ''}; ${unreadable.length} unreadable\n`);
  process.stdout.write(`${out}\n`);
}

function describe(shard: ShardSpec, key: PartKey): string {
  return `shard ${shard.index}/${shard.count} of ${key.folder}, encoder ${key.encoderSha256.slice(0, 12)}…, decoder ${key.decoderSha256.slice(0, 12)}…, calibration ${key.calibrationSha256.slice(0, 12)}…, FPR ${key.targetFpr}, k ${key.k}, reference ${key.reference ?? 'none'}`;
}

function rowOf(rows: Rows, i: number): Rows {
  return { data: rows.data.subarray(i * rows.dim, (i + 1) * rows.dim), dim: rows.dim };
}

function stack(encoded: readonly PartImage['embedding'][], what: string): Rows {
  const dim = encoded[0]?.dim ?? 0;
  const data = new Float32Array(encoded.length * dim);
  encoded.forEach((e, i) => {
    const row = decodeRows(e, `part's ${what}s`);
    if (row.dim !== dim) throw new Error(`a part's ${what}s differ in size (${row.dim} and ${dim}); delete the part and scan the shard again.`);
    data.set(row.data, i * dim);
  });
  return { data, dim };
}
