// The scan report shared by the CLI and the app: a versioned JSON document and its CSV form.
// CSV cells that a spreadsheet would run as formulas (=, +, -, @, tab, CR) are neutralised.
import Papa from 'papaparse';
import type { ReadoutRecord } from '../onnx/readout';

export const SCAN_REPORT_VERSION = 1;

/**
 * What decoderScore is made of (docs/ARCHITECTURE.md §5.3.1): the content score's components as
 * robust z on the calibration's clean scale (decoderScore is their mean; absent when the
 * calibration predates the content score) and the median of the masked patches' errors.
 */
export interface DecoderComponents {
  readonly semanticZ?: number;
  readonly lowPassZ?: number;
  readonly flipZ?: number;
  readonly medianPatchError: number;
}

export interface ScannedImage extends Partial<DecoderComponents> {
  /** Path relative to the scanned folder, with forward slashes. */
  readonly path: string;
  /**
   * The verdict score the flag is decided on: with a collapse component, the fused verdict score
   * (−log10 of the combined p-value); without, the decoder's robust per-image score.
   */
  readonly score: number;
  /** The paper's raw score: Σ squared error over masked pixels. */
  readonly dedeScore: number;
  /** Conformal p-value of the verdict (the combined one when fused). */
  readonly pValue: number;
  readonly flagged: boolean;
  /**
   * The decoder's per-image score and its p-value: the content score (mean of semanticZ, lowPassZ,
   * flipZ) or, from a calibration older than it, the median patch error.
   */
  readonly decoderScore?: number;
  readonly decoderPValue?: number;
  /** Set-level collapse: mean cosine similarity to the k nearest other images, and its p-value. */
  readonly collapseScore?: number;
  readonly collapsePValue?: number;
}

export interface ModelRef {
  readonly name: string;
  readonly sha256: string;
  /** For the encoder: the output read as the embedding, its pooling, why, and the embedding size. */
  readonly readout?: ReadoutRecord;
}

export interface ScanReport {
  readonly format: 'dede-scan-report';
  readonly version: number;
  readonly createdAt: string;
  readonly tool: { readonly name: string; readonly version: string };
  readonly encoder: ModelRef;
  readonly decoder: ModelRef;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly threshold: number;
  readonly calibration: Readonly<Record<string, unknown>>;
  readonly summary: { readonly scanned: number; readonly flagged: number; readonly unreadable: number };
  readonly images: readonly ScannedImage[];
  readonly unreadable: readonly { readonly path: string; readonly reason: string }[];
}

/** Cells starting with one of these run as formulas in spreadsheets; they get a leading '. */
export const FORMULA_START = /^[=+\-@\t\r]/;

export const CSV_COLUMNS = ['path', 'score', 'pValue', 'flagged', 'dedeScore', 'decoderScore', 'decoderPValue', 'collapseScore', 'collapsePValue', 'semanticZ', 'lowPassZ', 'flipZ', 'medianPatchError'] as const;

// Papa's own `escapeFormulae: true` pattern ends in `.*$`, which misses a formula followed by a
// line break (a file name may hold one): test the first character only.
const CSV_OPTIONS = { escapeFormulae: FORMULA_START, newline: '\r\n', quotes: false } as const;

const csvCells = (r: ScannedImage) => [r.path, r.score, r.pValue, r.flagged, r.dedeScore, r.decoderScore ?? '', r.decoderPValue ?? '', r.collapseScore ?? '', r.collapsePValue ?? '', r.semanticZ ?? '', r.lowPassZ ?? '', r.flipZ ?? '', r.medianPatchError ?? ''];

/**
 * The CSV in pieces, one per chunk of images: a large scan is written without its whole text (or
 * every image object) existing at once. The pieces joined are scanReportCsv's text.
 */
export function* scanReportCsvParts(chunks: Iterable<readonly ScannedImage[]>): Generator<string> {
  yield Papa.unparse([[...CSV_COLUMNS]], CSV_OPTIONS);
  let empty = true;
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    yield `\r\n${Papa.unparse({ fields: [...CSV_COLUMNS], data: chunk.map(csvCells) }, { ...CSV_OPTIONS, header: false })}`;
    empty = false;
  }
  // Papa ends a header-only CSV with a newline.
  if (empty) yield '\r\n';
}

export function scanReportCsv(report: Pick<ScanReport, 'images'>): string {
  return [...scanReportCsvParts([report.images])].join('');
}

/**
 * The JSON document (2-space indent, final newline) in pieces, the images one chunk at a time;
 * joined, the pieces are `JSON.stringify(report, null, 2) + '\n'` with `images` in its place.
 */
export function* scanReportJsonParts(head: Omit<ScanReport, 'images'>, chunks: Iterable<readonly ScannedImage[]>): Generator<string> {
  const { summary, unreadable, ...before } = head;
  // Key order as in ScanReport: …, summary, images, unreadable.
  const text = JSON.stringify({ ...before, summary, images: [], unreadable }, null, 2);
  const marker = '\n  "images": []';
  const at = text.indexOf(marker);
  if (at < 0) throw new Error('scan report: the images key is missing');
  yield `${text.slice(0, at)}\n  "images": [`;
  let first = true;
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    yield `${first ? '' : ','}\n    ${chunk.map((image) => JSON.stringify(image, null, 2).replace(/\n/g, '\n    ')).join(',\n    ')}`;
    first = false;
  }
  yield `${first ? ']' : '\n  ]'}${text.slice(at + marker.length)}\n`;
}
