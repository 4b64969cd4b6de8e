// The scan report shared by the CLI and the app: a versioned JSON document and its CSV form.
// CSV cells that a spreadsheet would run as formulas (=, +, -, @, tab, CR) are neutralised.
import Papa from 'papaparse';
import type { ReadoutRecord } from '../onnx/readout';
import { CONTENT_COMPONENTS, type ContentComponent, type ContentComponents, type ContentScale, contentZ, EQUAL_WEIGHTS } from '../dede/content-score';
import { pValue } from '../dede/calibrate';
import type { DecoderTrainingInfo } from '../dede/decoder-file';

export const SCAN_REPORT_VERSION = 1;

/**
 * What decoderScore is made of (docs/ARCHITECTURE.md §5.3.1): the content score's components as
 * robust z on the calibration's clean scale (decoderScore is their weighted mean; absent when the
 * calibration predates the content score) and the median of the masked patches' errors.
 */
export interface DecoderComponents {
  readonly semanticZ?: number;
  readonly lowPassZ?: number;
  readonly flipZ?: number;
  readonly medianPatchError: number;
}

/** An image's components as reports carry them: the z's on `scale` (none without one) and its median patch error. */
export function decoderComponentsOf(c: ContentComponents | undefined, scale: ContentScale | null, medianPatchError: number): DecoderComponents {
  if (!scale || !c) return { medianPatchError };
  const z = contentZ(c, scale);
  return { semanticZ: z.semantic, lowPassZ: z.lowPass, flipZ: z.flip, medianPatchError };
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
  /** For the decoder: how its training ended (absent: a decoder file that does not record it). */
  readonly training?: DecoderTrainingRecord;
}

/**
 * How the decoder's training ended, as a report states it (docs/ARCHITECTURE.md §8.5): whether the
 * convergence rule stopped it and at which epoch, or the epoch budget or time limit did.
 */
export interface DecoderTrainingRecord {
  readonly epochs: number | null;
  readonly steps: number | null;
  /** 'converged', 'epochs' (the budget), 'time' (the limit), 'cancel'; null when the file does not say. */
  readonly stoppedBy: string | null;
  readonly convergedAtEpoch: number | null;
  /** The held-back clean images' mean decoder score at the last epoch end. */
  readonly heldBackLoss: number | null;
}

/** The record of a decoder file's training metadata (the CLI reads it from the file, the app from its run). */
export function decoderTrainingRecord(t: Pick<DecoderTrainingInfo, 'epochs' | 'steps' | 'stoppedBy' | 'convergedAtEpoch' | 'heldBackLoss'>): DecoderTrainingRecord {
  return { epochs: t.epochs ?? null, steps: t.steps ?? null, stoppedBy: t.stoppedBy ?? null, convergedAtEpoch: t.convergedAtEpoch ?? null, heldBackLoss: t.heldBackLoss ?? null };
}

const epochsText = (n: number): string => `${Number.isInteger(n) ? n : n.toFixed(1)} epoch${n === 1 ? '' : 's'}`;

/** One line for people: "converged at epoch 31 (held-back loss 0.412)", "ran its whole budget of 50 epochs", … */
export function trainingRecordText(r: DecoderTrainingRecord): string {
  const held = r.heldBackLoss !== null ? ` (held-back loss ${r.heldBackLoss.toPrecision(3)})` : '';
  const ran = r.epochs !== null ? epochsText(r.epochs) : null;
  switch (r.stoppedBy) {
    case 'converged':
      return `converged at epoch ${r.convergedAtEpoch ?? r.epochs ?? '?'}${held}`;
    case 'epochs':
      return `ran its whole budget${ran ? ` of ${ran}` : ''}${held}`;
    case 'time':
      return `stopped by the time limit${ran ? ` after ${ran}` : ''}${held}`;
    case 'cancel':
      return `stopped by hand${ran ? ` after ${ran}` : ''}${held}`;
    default:
      return ran ? `trained for ${ran}${held}` : 'not recorded in the decoder file';
  }
}

/** A clean photo named as an example of what a cluster's embedding looks like to the encoder. */
export interface ReportExample {
  readonly path: string;
  readonly label: string | null;
  /** Centred cosine to the cluster's mean embedding (docs/ARCHITECTURE.md §5.7.1). */
  readonly similarity: number;
}

/** A revealed cluster: its members, and the clean photos the encoder sees it as (reveal by example). */
export interface ReportCluster {
  readonly size: number;
  readonly cohesion: number;
  readonly members: readonly string[];
  readonly seenAs: {
    readonly headline: string;
    /** The clean folder the examples come from. */
    readonly folder: string;
    /** Class folders, best first: the mean similarity of each one's 3 nearest photos. */
    readonly labels: readonly { readonly label: string; readonly similarity: number; readonly count: number }[];
    /** The photos shown: the best class folder's nearest, or the nearest of all. */
    readonly examples: readonly ReportExample[];
    readonly nearest: readonly ReportExample[];
    /** Clean photos' similarity to their own nearest neighbour, and where the nearest example falls among them. */
    readonly neighbourScale: { readonly median: number; readonly p95: number; readonly n: number };
    readonly nearestPercentile: number;
  };
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
  /** Revealed clusters, when the reviewer revealed them for this scan. */
  readonly clusters?: readonly ReportCluster[];
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

export const COMPONENT_NAMES = { semantic: 'semantic', lowPass: 'low-pass', flip: 'flip' } as const;
export type ComponentShares = Readonly<Record<keyof typeof COMPONENT_NAMES, number>>;

/** Each component's weight in decoderScore (content-score.ts contentWeights; equal for older scales). */
export type ComponentWeights = Readonly<Record<ContentComponent, number>>;

/**
 * The component weights a report's calibration scored with: its scoreKind's content scale, read
 * from the report's JSON; equal weights when the calibration has none (older scales, other kinds).
 */
export function reportComponentWeights(calibration: Readonly<Record<string, unknown>>): ComponentWeights {
  const kind = calibration['scoreKind'] as { kind?: unknown; scale?: { weights?: Partial<Record<ContentComponent, unknown>> } } | undefined;
  const w = kind?.kind === 'content' ? kind.scale?.weights : undefined;
  if (!w || !CONTENT_COMPONENTS.every((k) => typeof w[k] === 'number')) return EQUAL_WEIGHTS;
  return { semantic: w.semantic as number, lowPass: w.lowPass as number, flip: w.flip as number };
}

/**
 * Each content component's share of an image's decoderScore (docs/ARCHITECTURE.md §5.3.2): its
 * positive weighted z over the sum of the positive weighted z's, w_k·max(0, z_k) / Σ_j w_j·max(0, z_j).
 * decoderScore is the weighted mean of the z's, so the shares say which components raised it above
 * the clean images' typical value (0); a negative z (more photo-like than typical) gets 0. Null
 * without components or when no z is positive (nothing raised it).
 */
export function componentShares(c: Partial<DecoderComponents>, weights: ComponentWeights): ComponentShares | null {
  if (c.semanticZ === undefined || c.lowPassZ === undefined || c.flipZ === undefined) return null;
  const s = weights.semantic * Math.max(0, c.semanticZ);
  const l = weights.lowPass * Math.max(0, c.lowPassZ);
  const f = weights.flip * Math.max(0, c.flipZ);
  const sum = s + l + f;
  return sum > 0 ? { semantic: s / sum, lowPass: l / sum, flip: f / sum } : null;
}

/** The mean share of each component over images (those with shares), and how many had them. */
export function meanComponentShares(images: readonly Partial<DecoderComponents>[], weights: ComponentWeights): { shares: ComponentShares; images: number } | null {
  const all = images.map((c) => componentShares(c, weights)).filter((s): s is ComponentShares => s !== null);
  if (all.length === 0) return null;
  const mean = (k: keyof ComponentShares) => all.reduce((a, s) => a + s[k], 0) / all.length;
  return { shares: { semantic: mean('semantic'), lowPass: mean('lowPass'), flip: mean('flip') }, images: all.length };
}

/** The clean calibration images' component z's (what an image's z is ranked among). */
export type CleanComponentZ = Readonly<Record<keyof typeof COMPONENT_NAMES, readonly number[]>>;

export function cleanComponentZ(components: readonly ContentComponents[], scale: ContentScale): CleanComponentZ {
  const zs = components.map((c) => contentZ(c, scale));
  return { semantic: zs.map((z) => z.semantic), lowPass: zs.map((z) => z.lowPass), flip: zs.map((z) => z.flip) };
}

/**
 * Each component's conformal p-value (1 + #{clean z ≥ z}) / (n + 1) among the clean calibration
 * images' z's (calibrate.ts pValue): how unusual that component alone is. Null without z's.
 */
export function componentPValues(c: Partial<DecoderComponents>, clean: CleanComponentZ): ComponentShares | null {
  if (c.semanticZ === undefined || c.lowPassZ === undefined || c.flipZ === undefined) return null;
  return { semantic: pValue(c.semanticZ, clean.semantic), lowPass: pValue(c.lowPassZ, clean.lowPass), flip: pValue(c.flipZ, clean.flip) };
}
