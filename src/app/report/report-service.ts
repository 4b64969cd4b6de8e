// Report exports built from the scan store at the review threshold: the versioned JSON report and
// its CSV (the CLI's format), a self-contained HTML report, the cleaned file list, and a zip of
// kept/flagged images re-encoded as PNG from the stored pixels.
import { Zip, ZipPassThrough, strToU8 } from 'fflate';
import { version as APP_VERSION, name as APP_NAME } from '../../../package.json';
import { auroc, confusionAt, rocCurve } from '../../core/dede/metrics';
import { histogramSvg, rocSvg } from '../../core/report/charts';
import { buildHtmlReport, type HtmlReportCluster, type HtmlReportExample, type HtmlReportImage, type HtmlReportSeenAs } from '../../core/report/html-report';
import { clusterMapRgba, COLORMAP_NAME, denormalizeToRgb, maxOf, overlayHeatmap, planarSide, sumChannels, triggerMapDisplay } from '../../core/report/image-maps';
import { encodePng, pngDataUrl } from '../../core/report/png';
import { scanReportCsvParts, scanReportJsonParts, SCAN_REPORT_VERSION, type DecoderTrainingRecord, type ReportCluster, type ReportExample, type ScannedImage, type ScanReport } from '../../core/report/scan-report';
import type { ScanTable } from '../../core/workflow/scan-table';
import { chunkCount, ROLE_LABEL } from '../../core/images/dataset';
import { useEncoderStore } from '../encoder/encoder-store';
import { readoutRecord } from '../../core/onnx/readout';
import { ledgerHeadline } from '../../core/privacy/network-ledger';
import { policiesInForce } from '../privacy/document-csp';
import { networkLedger } from '../privacy/network-guard';
import { datasetStorage } from '../../core/workflow/dataset-storage';
import { useImagesStore } from '../images/images-store';
import { useScanStore, type ScanRow } from '../scan/scan-store';
import { examplesHeadline, examplesScale, otherNearest, shownExamples, shownTitle, targetCaption, type ExamplePhoto, type RevealedCluster } from '../review/reveal-text';
import { runTrainingRecord, useTrainStore } from '../train/train-store';
import { countScoresAbove, evaluationSet, folderCounts, LABEL_DEFINITION, type NegativesMode } from '../review/review-model';
import { explainProblems, explainRows, readThumb } from '../review/review-service';
import { blobFromParts, cleanedFileListParts, zipEntryName } from '../../core/report/report-files';
import { useReviewStore, type RevealedClusters, type TriggerMap } from '../review/review-store';
import type { Preprocessing } from '../../core/images/preprocess';

export const TOOL = { name: APP_NAME, version: APP_VERSION } as const;
/** Members listed per cluster in the HTML report. */
export const HTML_CLUSTER_MEMBERS = 40;
/** Flagged images shown with heatmaps in the HTML report. */
export const HTML_TOP_FLAGGED = 24;

export function downloadBlob(data: BlobPart, name: string, type: string): void {
  const url = URL.createObjectURL(data instanceof Blob ? data : new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Rows turned into report images a chunk at a time: a 20k scan never has 20k image objects. */
const REPORT_CHUNK = 256;

/** Report images: the scan's rows without where they are stored, flagged at the review threshold. */
function* reportImages(table: ScanTable, threshold: number): Generator<ScannedImage[]> {
  for (let from = 0; from < table.length; from += REPORT_CHUNK) {
    const chunk: ScannedImage[] = [];
    for (let i = from; i < Math.min(table.length, from + REPORT_CHUNK); i++) {
      const image = table.image(i);
      chunk.push(image.flagged === (image.score > threshold) ? image : { ...image, flagged: !image.flagged });
    }
    yield chunk;
  }
}

function* pathsAndScores(table: ScanTable): Generator<{ path: string; score: number }> {
  for (let i = 0; i < table.length; i++) yield { path: table.path(i), score: table.score(i) };
}

const withTraining = (training: DecoderTrainingRecord | null) => (training ? { training } : {});

/** Everything in the scan report but its images (see reportImages). */
export function buildReportHead(threshold: number): Omit<ScanReport, 'images'> {
  const { scan, table, calibration } = useScanStore.getState();
  if (!scan) throw new Error('There is no scan to report.');
  const encoder = useEncoderStore.getState().encoder;
  const run = useTrainStore.getState().run;
  const datasets = useImagesStore.getState().datasets.filter((d) => scan.datasets.some((s) => s.id === d.id));
  const unreadable = datasets.flatMap((d) => d.unreadable.map((u) => ({ path: u.path, reason: u.reason })));
  const cal = calibration?.calibration;
  const revealed = currentClusters(useReviewStore.getState().clusters, scan.scanId);
  return {
    format: 'dede-scan-report',
    version: SCAN_REPORT_VERSION,
    createdAt: new Date().toISOString(),
    tool: TOOL,
    encoder: { name: encoder?.name ?? 'unknown', sha256: encoder?.sha256 ?? '', ...(encoder?.readout ? { readout: readoutRecord(encoder.readout, encoder.readout.dim ?? run?.plan.cfg.embedDim ?? null) } : {}) },
    decoder: { name: run?.decoderPath ?? 'unknown', sha256: scan.decoderSha256, ...withTraining(run ? runTrainingRecord(run) : null) },
    settings: {
      scanId: scan.scanId,
      scanStatus: scan.status,
      scanStartedAt: scan.startedAt,
      folders: scan.datasets.map((d) => ({ name: d.name, role: d.role, count: d.count })),
      calibratedThreshold: scan.threshold,
      reviewThreshold: threshold,
      decoder: run?.plan.cfg ?? null,
      preprocessing: encoder?.preprocessing ?? null,
      workingSize: datasets[0]?.layout.size ?? null,
      verdict: scan.verdict ?? null,
    },
    threshold,
    calibration: cal
      ? { method: cal.method, scoreKind: cal.scoreKind, n: cal.n, mean: cal.mean, std: cal.std, heldOut: calibration.heldOut, scoredAt: calibration.scoredAt }
      : {},
    summary: { scanned: table.length, flagged: countScoresAbove(table.column('score'), threshold), unreadable: unreadable.length },
    unreadable,
    ...(revealed ? { clusters: jsonClusters(revealed) } : {}),
  };
}

/** The versioned JSON report (the CLI's format), built piece by piece into a Blob. */
export function reportJsonBlob(threshold: number): Blob {
  return blobFromParts(scanReportJsonParts(buildReportHead(threshold), reportImages(useScanStore.getState().table, threshold)), 'application/json');
}

/** The report's CSV, built piece by piece into a Blob. */
export function reportCsvBlob(threshold: number): Blob {
  return blobFromParts(scanReportCsvParts(reportImages(useScanStore.getState().table, threshold)), 'text/csv;charset=utf-8');
}

/** Paths of the images not flagged at τ, one per line. */
export function cleanedListBlob(threshold: number): Blob {
  return blobFromParts(cleanedFileListParts(pathsAndScores(useScanStore.getState().table), threshold), 'text/plain;charset=utf-8');
}

const yieldToPage = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The revealed clusters of this scan, or null (none revealed, or revealed for another scan). */
function currentClusters(revealed: RevealedClusters | null, scanId: string | undefined): readonly RevealedCluster[] | null {
  return revealed && revealed.scanId === scanId ? revealed.clusters : null;
}

const reportExample = (p: ExamplePhoto): ReportExample => ({ path: p.path, label: p.label, similarity: p.similarity });

/** The JSON report's clusters: members and what the encoder sees them as. */
export function jsonClusters(clusters: readonly RevealedCluster[]): ReportCluster[] {
  return clusters.map((c) => ({
    size: c.size,
    cohesion: c.cohesion,
    members: c.members.map((m) => m.path),
    seenAs: {
      headline: examplesHeadline(c.examples),
      folder: c.examples.folder,
      labels: c.examples.labels.map((l) => ({ label: l.label, similarity: l.similarity, count: l.count })),
      examples: shownExamples(c.examples).map(reportExample),
      nearest: c.examples.nearest.map(reportExample),
      neighbourScale: c.examples.scale,
      nearestPercentile: c.examples.nearestPercentile,
    },
  }));
}

async function htmlExample(p: ExamplePhoto): Promise<HtmlReportExample> {
  const thumb = await readThumb(p.datasetId, p.slot).catch(() => null);
  return { image: thumb ? pngDataUrl(thumb.rgb, thumb.size, thumb.size) : null, path: p.path, label: p.label, similarity: p.similarity };
}

async function htmlSeenAs(c: RevealedCluster): Promise<HtmlReportSeenAs> {
  const others = otherNearest(c.examples);
  return {
    headline: examplesHeadline(c.examples),
    scale: examplesScale(c.examples),
    title: shownTitle(c.examples),
    examples: await Promise.all(shownExamples(c.examples).map(htmlExample)),
    nearest: others ? await Promise.all(others.map(htmlExample)) : null,
  };
}

async function reportClusters(clusters: readonly RevealedCluster[] | null, pre: Preprocessing | null): Promise<HtmlReportCluster[]> {
  if (!clusters || !pre) return [];
  return Promise.all(clusters.map(async (c) => {
    const side = Math.round(Math.sqrt(c.target.length / 3));
    const map = clusterMapRgba(c);
    return {
      size: c.size,
      cohesion: c.cohesion,
      target: pngDataUrl(denormalizeToRgb(c.target, pre), side, side),
      targetCaption: targetCaption(c),
      triggerMap: map && c.triggerMap ? pngDataUrl(map, c.triggerMap.side, c.triggerMap.side, 4) : null,
      peak: c.triggerMap?.peak ?? null,
      members: c.members.slice(0, HTML_CLUSTER_MEMBERS).map((m) => ({ path: m.path, folder: m.datasetName })),
      seenAs: await htmlSeenAs(c),
    };
  }));
}

export async function buildHtml(threshold: number, negatives: NegativesMode, triggerMap: TriggerMap | null, clusters: RevealedClusters | null, onProgress: (text: string) => void): Promise<string> {
  const head = buildReportHead(threshold);
  const { table, tags, calibration, scan } = useScanStore.getState();
  const encoder = useEncoderStore.getState().encoder;
  const run = useTrainStore.getState().run;
  const scores = table.column('score');
  const flagged: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i]! > threshold) flagged.push(i);
  flagged.sort((a, b) => scores[b]! - scores[a]!);
  const top = flagged.slice(0, HTML_TOP_FLAGGED).map((i) => table.row(i));
  const problem = explainProblems();
  const explained = new Map<string, { heatmap: string }>();
  if (!problem && top.length > 0 && encoder?.preprocessing) {
    let done = 0;
    await explainRows(top, 8, (key, e) => {
      const side = planarSide(e.input);
      const err = sumChannels(e.pixelError);
      explained.set(key, { heatmap: pngDataUrl(overlayHeatmap(denormalizeToRgb(e.input, encoder.preprocessing!), err, maxOf(err), 0.6), side, side) });
      onProgress(`Heatmaps ${++done} of ${top.length}…`);
    });
  }
  const images: HtmlReportImage[] = [];
  for (const r of top) {
    const d = useImagesStore.getState().datasets.find((x) => x.id === r.datasetId);
    if (!d) continue;
    const rgb = await datasetStorage().readPixels(d.id, d.layout, r.slot, 1);
    images.push({
      path: r.path,
      folder: r.datasetName,
      score: r.score,
      dedeScore: r.dedeScore,
      pValue: r.pValue,
      ...(r.decoderScore !== undefined ? { decoderScore: r.decoderScore } : {}),
      ...(r.decoderPValue !== undefined ? { decoderPValue: r.decoderPValue } : {}),
      ...(r.collapseScore !== undefined ? { collapseScore: r.collapseScore } : {}),
      ...(r.collapsePValue !== undefined ? { collapsePValue: r.collapsePValue } : {}),
      // decoderScore's components, named with their share in the report (docs/ARCHITECTURE.md §5.3.2).
      ...Object.fromEntries((['semanticZ', 'lowPassZ', 'flipZ', 'medianPatchError'] as const).filter((k) => r[k] !== undefined).map((k) => [k, r[k]])),
      original: pngDataUrl(rgb, d.layout.size, d.layout.size), heatmap: explained.get(`${r.datasetId}:${r.slot}`)?.heatmap ?? null });
  }
  const set = evaluationSet(table, tags, negatives);
  let evaluation = null;
  if (set.positives > 0 && set.negatives > 0) {
    const c = confusionAt(set.scores, set.labels, threshold);
    const points = rocCurve(set.scores, set.labels);
    const step = Math.max(1, Math.floor(points.length / 1000));
    evaluation = {
      definition: LABEL_DEFINITION[negatives],
      auroc: auroc(set.scores, set.labels),
      positives: set.positives,
      negatives: set.negatives,
      tp: c.tp, fp: c.fp, tn: c.tn, fn: c.fn, tpr: c.tpr, fpr: c.fpr,
      rocSvg: rocSvg(points.filter((_, i) => i % step === 0 || i === points.length - 1), c.tpr !== null && c.fpr !== null ? { tpr: c.tpr, fpr: c.fpr } : null, 'ROC curve'),
    };
  }
  const suspect: number[] = [];
  const poisoned: number[] = [];
  for (let i = 0; i < table.length; i++) (table.folderOf(i).role === 'poisoned' ? poisoned : suspect).push(scores[i]!);
  const hist = histogramSvg(
    [
      ...(suspect.length ? [{ label: 'suspect', values: suspect, color: '#ee6677' }] : []),
      ...(poisoned.length ? [{ label: 'known poisoned', values: poisoned, color: '#aa3377' }] : []),
      ...(calibration ? [{ label: 'clean calibration', values: calibration.cleanScores, color: '#4477aa' }] : []),
    ],
    threshold,
    { title: 'Score histogram with threshold' },
  );
  let trigger = null;
  if (triggerMap && triggerMap.scanId === scan?.scanId) {
    const view = triggerMapDisplay(triggerMap);
    trigger = {
      image: pngDataUrl(view.rgba, triggerMap.side, triggerMap.side, 4),
      note: `Mean per-pixel error of ${triggerMap.flaggedN} flagged minus ${triggerMap.unflaggedN} unflagged images at τ = ${triggerMap.threshold.toPrecision(4)} (positive part, ${COLORMAP_NAME}); peak at row ${view.peak.y}, column ${view.peak.x}.`,
    };
  }
  // Tagged rows in scan order (tags are few: a look-up each).
  const tagged = Object.entries(tags)
    .map(([key, tag]) => ({ index: table.indexOf(key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))), tag }))
    .filter((t) => t.index >= 0)
    .sort((a, b) => a.index - b.index)
    .map(({ index, tag }) => ({ path: table.path(index), folder: table.folderOf(index).name, tag, score: scores[index]!, flagged: scores[index]! > threshold }));
  return buildHtmlReport({
    report: head,
    encoderFacts: { Repository: encoder?.repo ?? null, Revision: encoder?.revision ?? null, Commit: encoder?.commit ?? null, Origin: encoder?.origin ?? null, Source: encoder?.sourceUrl ?? null },
    decoderFacts: { 'Training run': run?.runId ?? null, Imported: run ? String(run.imported) : null, Steps: run ? String(run.step) : null },
    calibratedThreshold: scan?.threshold ?? threshold,
    folders: [...folderCounts(table, threshold).values()].map((f) => ({ ...f, role: ROLE_LABEL[f.role] })),
    histogramSvg: hist,
    evaluation,
    top: images,
    flaggedTotal: flagged.length,
    triggerMap: trigger,
    clusters: await reportClusters(currentClusters(clusters, scan?.scanId), encoder?.preprocessing ?? null),
    colormap: COLORMAP_NAME,
    privacy: { policies: policiesInForce(), network: ledgerHeadline(networkLedger.summary()) },
    tagged,
  });
}

/** kept/ and flagged/ folders of PNGs at working resolution, with the CSV and a note. */
export async function buildImageZip(threshold: number, onProgress: (done: number, total: number) => void): Promise<Blob> {
  const { table, scan } = useScanStore.getState();
  const head = buildReportHead(threshold);
  // Zip output is folded into a Blob as it comes, so the archive does not sit in the page's heap.
  let archive = new Blob([], { type: 'application/zip' });
  let parts: Uint8Array[] = [];
  let failure: Error | null = null;
  const zip = new Zip((err, data) => {
    if (err) failure = err;
    else parts.push(data);
  });
  const fold = () => {
    archive = new Blob([archive, ...(parts as BlobPart[])], { type: 'application/zip' });
    parts = [];
  };
  const add = (name: string, data: Uint8Array) => {
    const f = new ZipPassThrough(name);
    zip.add(f);
    f.push(data, true);
  };
  // Row index by folder and slot, to walk each folder's stored chunks in order.
  const byDataset = new Map<string, Map<number, number>>();
  for (let i = 0; i < table.length; i++) {
    const id = table.folderOf(i).id;
    const m = byDataset.get(id) ?? new Map<number, number>();
    m.set(table.slot(i), i);
    byDataset.set(id, m);
  }
  const sizes = new Set<number>();
  const taken = new Set<string>();
  let done = 0;
  for (const [datasetId, slots] of byDataset) {
    const d = useImagesStore.getState().datasets.find((x) => x.id === datasetId);
    if (!d) continue;
    sizes.add(d.layout.size);
    const per = d.layout.size * d.layout.size * 3;
    for (let c = 0; c < chunkCount(d.layout, d.counts.images); c++) {
      const from = c * d.layout.imagesPerChunk;
      const count = Math.min(d.layout.imagesPerChunk, d.counts.images - from);
      const pixels = await datasetStorage().readPixels(d.id, d.layout, from, count);
      for (let i = 0; i < count; i++) {
        const row = slots.get(from + i);
        if (row === undefined) continue;
        add(zipEntryName(table.score(row) > threshold ? 'flagged' : 'kept', table.path(row), taken), encodePng(pixels.subarray(i * per, (i + 1) * per), d.layout.size, d.layout.size));
        if (++done % 64 === 0) {
          fold();
          onProgress(done, table.length);
          await yieldToPage();
        }
      }
    }
  }
  add('report.csv', strToU8(await reportCsvBlob(threshold).text()));
  add(
    'README.txt',
    strToU8(
      `DeDe scan ${scan?.scanId ?? ''}: ${head.summary.flagged} flagged of ${head.summary.scanned} images at threshold ${threshold}.\n` +
        `Images are re-encoded as PNG from the pixels the app stored, at the working resolution (${[...sizes].map((s) => `${s}×${s}`).join(', ')}), ` +
        'not the original files. kept/ holds images at or below the threshold, flagged/ those above it; report.csv lists every image.\n',
    ),
  );
  zip.end();
  fold();
  onProgress(table.length, table.length);
  if (failure) throw failure;
  return archive;
}
