// The part file of one shard of a scan (`dede scan --shard I/N`), read by a resumed scan and by
// `dede merge`. JSON Lines, appended as the scan goes:
//   {"kind":"header", …}           what was scanned with what: a resume or a merge checks it
//   {"kind":"image", …}            one scored image: its scores, embedding and fingerprint (the
//                                  shard's collapse score needs every image's, so a resume
//                                  does not decode or embed what is done)
//   {"kind":"unreadable", …}       one file of the shard that could not be read
//   {"kind":"result", …}           one image's verdict within the shard (after every image line)
//   {"kind":"verdict", …}          the shard's verdict and collapse gate: the part is complete
// A crash leaves at worst a cut last line, which a resume drops.
import { createHash } from 'node:crypto';
import type { DecoderComponents, ScannedImage, ScanReport } from '../core/report/scan-report';
import { UsageError } from './args';
import type { EncodedRows } from './calibration-file';

export const PART_FORMAT = 'dede-scan-part';
export const PART_VERSION = 1;

export interface ShardSpec {
  /** 0-based: 0 … count − 1. */
  readonly index: number;
  readonly count: number;
}

/** "I/N" with 0 ≤ I < N. */
export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(count) && count >= 1 && index < count)) {
    throw new UsageError(`--shard must be I/N with 0 ≤ I < N (shards count from 0), got ${text}.`);
  }
  return { index, count };
}

/**
 * The shard of a file from its SHA-256 (hex): the first 48 bits modulo the shard count. A SHA-256 is
 * uniform, so every shard is a random sample of the folder that keeps its poison rate, and the same
 * file lands in the same shard on any machine, under any name.
 */
export function shardOf(sha256: string, count: number): number {
  const head = Number.parseInt(sha256.slice(0, 12), 16);
  if (!Number.isSafeInteger(head) || sha256.length < 12) throw new Error(`not a SHA-256: ${sha256}`);
  return head % count;
}

/** The shard of a file that could not be read: by the SHA-256 of its path. */
export function shardOfPath(path: string, count: number): number {
  return shardOf(createHash('sha256').update(path).digest('hex'), count);
}

/** What a part was made from; a resume must match it exactly and a merge needs it equal across parts. */
export interface PartKey {
  readonly folder: string;
  readonly encoderSha256: string;
  readonly decoderSha256: string;
  readonly calibrationSha256: string;
  readonly rounds: number;
  readonly aggregate: unknown;
  readonly targetFpr: number;
  readonly k: number;
  /** The collapse reference: 'calibration', 'folder' (then its path) or null (decoder score alone). */
  readonly reference: string | null;
}

export interface PartHeader {
  readonly kind: 'header';
  readonly format: typeof PART_FORMAT;
  readonly version: typeof PART_VERSION;
  readonly shard: ShardSpec;
  readonly key: PartKey;
  /** The report head every part shares (its settings.verdict is set by merge). */
  readonly head: Omit<ScanReport, 'images' | 'summary' | 'unreadable'>;
}

export interface PartImage {
  readonly kind: 'image';
  readonly path: string;
  readonly sha256: string;
  readonly decoderScore: number;
  readonly dedeScore: number;
  /** decoderScore's components (absent in parts written before the content score). */
  readonly components?: DecoderComponents;
  readonly embedding: EncodedRows;
  readonly fingerprint: EncodedRows;
}

export interface PartUnreadable {
  readonly kind: 'unreadable';
  readonly path: string;
  readonly reason: string;
}

export interface PartResult {
  readonly kind: 'result';
  readonly sha256: string;
  readonly image: ScannedImage;
}

export interface PartVerdict {
  readonly kind: 'verdict';
  readonly scanned: number;
  readonly flagged: number;
  readonly unreadable: number;
  /** The shard's verdict record (as a scan report's settings.verdict): its collapse gate among it. */
  readonly verdict: Record<string, unknown>;
}

export type PartLine = PartHeader | PartImage | PartUnreadable | PartResult | PartVerdict;

export interface ParsedPart {
  readonly header: PartHeader;
  readonly lines: readonly PartLine[];
  /** Bytes of the text up to the end of the last whole line (a cut last line is not counted). */
  readonly wholeBytes: number;
  /** Whether the last line was cut (a scan stopped while writing it). */
  readonly cut: boolean;
}

const KINDS = new Set(['image', 'unreadable', 'result', 'verdict']);

/**
 * Parses a part's text. A last line that is not whole JSON is a cut write (dropped and reported);
 * any other bad line means the file is damaged or not a part. `file` names it in errors.
 */
export function parsePart(text: string, file: string): ParsedPart {
  const rows = text.split('\n');
  const lines: PartLine[] = [];
  let wholeBytes = 0;
  let cut = false;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const last = i === rows.length - 1;
    if (last && row === '') break;
    let value: unknown;
    try {
      value = JSON.parse(row);
    } catch {
      // Only the last line can be cut; one with its newline written was whole.
      if (i === 0) throw new Error(`${file} is not a dede scan part (it does not start with a ${PART_FORMAT} header line).`);
      if (last) {
        cut = true;
        break;
      }
      throw new Error(`${file}: line ${i + 1} is not JSON; the part is damaged: delete it and scan its shard again.`);
    }
    const kind = (value as { kind?: unknown } | null)?.kind;
    if (i === 0) {
      const h = value as Partial<PartHeader>;
      if (kind !== 'header' || h.format !== PART_FORMAT) throw new Error(`${file} is not a dede scan part (it does not start with a ${PART_FORMAT} header line).`);
      if (h.version !== PART_VERSION) throw new Error(`${file} is a scan part of version ${String(h.version)}; this dede reads version ${PART_VERSION}.`);
    } else if (typeof kind !== 'string' || !KINDS.has(kind)) throw new Error(`${file}: line ${i + 1} is not a part line (kind ${String(kind)}).`);
    if (last) {
      // A whole JSON value without its newline: written, but the newline was not.
      cut = true;
      break;
    }
    lines.push(value as PartLine);
    wholeBytes += Buffer.byteLength(row) + 1;
  }
  const header = lines[0];
  if (header?.kind !== 'header') throw new Error(`${file} is empty or cut inside its header: delete it and scan its shard again.`);
  return { header, lines, wholeBytes, cut };
}

export const partLine = (line: PartLine): string => `${JSON.stringify(line)}\n`;
