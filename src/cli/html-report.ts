// The self-contained HTML report of a CLI scan (`dede scan --out report.html`) or of a merged
// sharded scan (`dede merge … --out report.html`), through the app's builder (core/report/
// html-report.ts). Built from a stream of image verdicts with bounded memory (docs/ARCHITECTURE.md
// §2.1): the histogram counts scores into fixed bins over a range known beforehand, and only the
// top flagged images are kept (a bounded min-heap). Thumbnails are decoded from the scanned folder
// when it is reachable from here; where a file is not (a merge on another machine) or has changed
// since it was scanned, the report says so for that image and is written all the same.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { areaResizeRgb } from '../core/images/area-resize';
import { addToBins, binsSvg, histogramBins, type Bins } from '../core/report/charts';
import { buildHtmlReport, type HtmlReportImage, type HtmlReportShard } from '../core/report/html-report';
import { pngDataUrl } from '../core/report/png';
import type { ScannedImage, ScanReport } from '../core/report/scan-report';
import { decodeFullRgb } from './node-images';

/** Flagged images shown in the report, highest score first. */
export const HTML_TOP_FLAGGED = 24;
/** Fixed histogram bins: the counts are summed across parts. */
const HISTOGRAM_BINS = 30;
/** Thumbnail side in pixels (the report shows images at 96 × 96). */
const THUMBNAIL = 96;

/** One image verdict with the SHA-256 of the file it was scored from, when known. */
export interface VerdictRow {
  readonly image: ScannedImage;
  readonly sha256?: string;
}

/** Higher score first; equal scores by path, so the list does not depend on the order of the parts. */
const before = (a: VerdictRow, b: VerdictRow): boolean => a.image.score > b.image.score || (a.image.score === b.image.score && a.image.path < b.image.path);

/**
 * The `size` best rows seen so far: a binary min-heap whose root is the worst kept row, so each
 * offered row costs O(log size) and memory stays at `size` rows whatever the stream's length.
 */
export class TopRows {
  private readonly heap: VerdictRow[] = [];
  constructor(private readonly size: number) {}

  offer(row: VerdictRow): void {
    const h = this.heap;
    if (h.length < this.size) {
      h.push(row);
      this.up(h.length - 1);
    } else if (this.size > 0 && before(row, h[0]!)) {
      h[0] = row;
      this.down(0);
    }
  }

  /** The kept rows, best first. */
  sorted(): VerdictRow[] {
    return [...this.heap].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[parent]!, h[i]!)) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < h.length && before(h[worst]!, h[l]!)) worst = l;
      if (r < h.length && before(h[worst]!, h[r]!)) worst = r;
      if (worst === i) return;
      [h[worst], h[i]] = [h[i]!, h[worst]!];
      i = worst;
    }
  }
}

/** What the HTML report needs of every image, gathered chunk by chunk. */
export class ReportDigest {
  private bins: Bins;
  private readonly top = new TopRows(HTML_TOP_FLAGGED);

  /** `range`: of every score to come (and the threshold), e.g. from a first pass over the parts. */
  constructor(
    range: { lo: number; hi: number },
    readonly threshold: number,
  ) {
    this.bins = histogramBins([[]], HISTOGRAM_BINS, range);
  }

  add(rows: readonly VerdictRow[]): void {
    this.bins = addToBins(this.bins, [Float64Array.from(rows, (r) => r.image.score)]);
    for (const r of rows) if (r.image.flagged) this.top.offer(r);
  }

  histogramSvg(): string {
    return binsSvg(this.bins, [{ label: 'scanned images', color: '#ee6677' }], this.threshold, { title: 'Verdict score histogram with threshold' });
  }

  topRows(): VerdictRow[] {
    return this.top.sorted();
  }
}

/** The running range of scores, for the histogram's fixed bins. */
export class ScoreRange {
  private lo = Infinity;
  private hi = -Infinity;

  add(score: number): void {
    if (!Number.isFinite(score)) return;
    if (score < this.lo) this.lo = score;
    if (score > this.hi) this.hi = score;
  }

  merge(other: ScoreRange): void {
    this.add(other.lo);
    this.add(other.hi);
  }

  /** The range including the threshold line; one unit either side of a single value. */
  range(threshold: number): { lo: number; hi: number } {
    const lo = Math.min(this.lo, Number.isFinite(threshold) ? threshold : Infinity);
    const hi = Math.max(this.hi, Number.isFinite(threshold) ? threshold : -Infinity);
    if (lo === Infinity) return { lo: 0, hi: 1 };
    return hi === lo ? { lo: lo - 1, hi: hi + 1 } : { lo, hi };
  }
}

/**
 * The verdict score a flag is decided at, for the histogram's threshold line: −log10(α) for a fused
 * verdict (score > −log10(α) ⟺ flagged, set-scan.ts), the calibrated threshold for the decoder alone.
 */
export function verdictThreshold(kind: unknown, targetFpr: number, decoderThreshold: number): number {
  return kind === 'fused' ? -Math.log10(targetFpr) : decoderThreshold;
}

/** A square thumbnail of an image file (centre crop, area-averaged), or null when it cannot be shown. */
export async function thumbnail(file: string, sha256?: string): Promise<string | null> {
  try {
    const bytes = new Uint8Array(await readFile(file));
    // A file changed since it was scanned would show another image than the one judged.
    if (sha256 !== undefined && createHash('sha256').update(bytes).digest('hex') !== sha256) return null;
    const full = await decodeFullRgb(bytes);
    const side = Math.min(full.width, full.height);
    const x0 = Math.floor((full.width - side) / 2);
    const y0 = Math.floor((full.height - side) / 2);
    const crop = new Uint8Array(side * side * 3);
    for (let y = 0; y < side; y++) crop.set(full.rgb.subarray(((y0 + y) * full.width + x0) * 3, ((y0 + y) * full.width + x0 + side) * 3), y * side * 3);
    const t = Math.min(THUMBNAIL, side);
    return pngDataUrl(areaResizeRgb(crop, side, side, t, t), t, t);
  } catch {
    return null;
  }
}

export interface CliHtmlInput {
  readonly head: Omit<ScanReport, 'images'>;
  readonly digest: ReportDigest;
  /** The scanned folder, where the thumbnails are read from. */
  readonly root: string;
  readonly shards?: readonly HtmlReportShard[];
}

/** The report's HTML, and how many of the top images had no thumbnail (not readable here). */
export async function cliHtmlReport({ head, digest, root, shards }: CliHtmlInput): Promise<{ html: string; missing: number }> {
  const top: HtmlReportImage[] = [];
  let missing = 0;
  for (const { image, sha256 } of digest.topRows()) {
    const original = await thumbnail(join(root, image.path), sha256);
    if (original === null) missing++;
    const slash = image.path.lastIndexOf('/');
    top.push({ ...image, folder: slash < 0 ? basename(root) : image.path.slice(0, slash), original, heatmap: null });
  }
  const html = buildHtmlReport({
    // τ in the summary is the score a flag is decided at: for a fused verdict −log10(α), not the
    // decoder's calibrated threshold (which the JSON report and the Calibration section keep).
    report: { ...head, threshold: digest.threshold },
    encoderFacts: {},
    decoderFacts: {},
    calibratedThreshold: digest.threshold,
    folders: [{ name: root, role: 'scanned folder', count: head.summary.scanned, flagged: head.summary.flagged }],
    histogramSvg: digest.histogramSvg(),
    evaluation: null,
    top,
    flaggedTotal: head.summary.flagged,
    triggerMap: null,
    clusters: [],
    colormap: 'none',
    privacy: {
      policies: [],
      network: `dede CLI on ${hostname()}, no network use by the scan`,
      noPolicy: 'None: a command-line run has no Content-Security-Policy (that is a browser feature). The CLI read the models and images from local files and sent nothing.',
    },
    tagged: [],
    ...(shards ? { shards } : {}),
  });
  return { html, missing };
}
