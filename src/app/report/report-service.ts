// Report exports built from the scan store at the review threshold: the versioned JSON report and
// its CSV (the CLI's format), a self-contained HTML report, the cleaned file list, and a zip of
// kept/flagged images re-encoded as PNG from the stored pixels.
import { Zip, ZipPassThrough, strToU8 } from 'fflate';
import { version as APP_VERSION, name as APP_NAME } from '../../../package.json';
import { auroc, confusionAt, rocCurve } from '../../core/dede/metrics';
import { histogramSvg, rocSvg } from '../../core/report/charts';
import { buildHtmlReport, type HtmlReportCluster, type HtmlReportImage } from '../../core/report/html-report';
import { COLORMAP_NAME, denormalizeToRgb, maxOf, overlayHeatmap, planarSide, sumChannels } from '../../core/report/image-maps';
import { encodePng, pngDataUrl } from '../../core/report/png';
import { scanReportCsv, SCAN_REPORT_VERSION, type ScanReport } from '../../core/report/scan-report';
import { chunkCount, ROLE_LABEL } from '../../core/images/dataset';
import { useEncoderStore } from '../encoder/encoder-store';
import { ledgerHeadline } from '../../core/privacy/network-ledger';
import { policiesInForce } from '../privacy/document-csp';
import { networkLedger } from '../privacy/network-guard';
import { datasetStorage } from '../images/dataset-storage';
import { useImagesStore } from '../images/images-store';
import { useScanStore, type ScanRow } from '../scan/scan-store';
import { useTrainStore } from '../train/train-store';
import { evaluationSet, folderCounts, LABEL_DEFINITION, type NegativesMode } from '../review/review-model';
import { explainProblems, explainRows } from '../review/review-service';
import { triggerMapDisplay } from '../review/TriggerMapCard';
import { zipEntryName } from './report-files';
export { cleanedFileList } from './report-files';
import type { RevealedClusters, TriggerMap } from '../review/review-store';
import { clusterMapRgba } from '../review/ClustersCard';
import type { Preprocessing } from '../../core/images/preprocess';

export const TOOL = { name: APP_NAME, version: APP_VERSION } as const;
/** Members listed per cluster in the HTML report. */
export const HTML_CLUSTER_MEMBERS = 40;
/** Flagged images shown with heatmaps in the HTML report. */
export const HTML_TOP_FLAGGED = 24;

export function downloadBlob(data: BlobPart, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function buildScanReport(threshold: number): ScanReport {
  const { scan, rows, calibration } = useScanStore.getState();
  if (!scan) throw new Error('There is no scan to report.');
  const encoder = useEncoderStore.getState().encoder;
  const run = useTrainStore.getState().run;
  const datasets = useImagesStore.getState().datasets.filter((d) => scan.datasets.some((s) => s.id === d.id));
  // Report rows are the scan rows without where they are stored, flagged at the review threshold.
  const images = rows.map(({ datasetId: _id, datasetName: _name, role: _role, slot: _slot, ...image }) => ({ ...image, flagged: image.score > threshold }));
  const unreadable = datasets.flatMap((d) => d.unreadable.map((u) => ({ path: u.path, reason: u.reason })));
  const cal = calibration?.calibration;
  return {
    format: 'dede-scan-report',
    version: SCAN_REPORT_VERSION,
    createdAt: new Date().toISOString(),
    tool: TOOL,
    encoder: { name: encoder?.name ?? 'unknown', sha256: encoder?.sha256 ?? '' },
    decoder: { name: run?.decoderPath ?? 'unknown', sha256: scan.decoderSha256 },
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
    summary: { scanned: images.length, flagged: images.filter((i) => i.flagged).length, unreadable: unreadable.length },
    images,
    unreadable,
  };
}

export const reportJson = (report: ScanReport): string => `${JSON.stringify(report, null, 2)}\n`;
export const reportCsv = scanReportCsv;

const yieldToPage = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function reportClusters(revealed: RevealedClusters | null, scanId: string | undefined, pre: Preprocessing | null): HtmlReportCluster[] {
  if (!revealed || revealed.scanId !== scanId || !pre) return [];
  return revealed.clusters.map((c) => {
    const side = Math.round(Math.sqrt(c.target.length / 3));
    const map = clusterMapRgba(c);
    return {
      size: c.size,
      cohesion: c.cohesion,
      target: pngDataUrl(denormalizeToRgb(c.target, pre), side, side),
      triggerMap: map && c.triggerMap ? pngDataUrl(map, c.triggerMap.side, c.triggerMap.side, 4) : null,
      peak: c.triggerMap?.peak ?? null,
      members: c.members.slice(0, HTML_CLUSTER_MEMBERS).map((m) => ({ path: m.path, folder: m.datasetName })),
    };
  });
}

export async function buildHtml(threshold: number, negatives: NegativesMode, triggerMap: TriggerMap | null, clusters: RevealedClusters | null, onProgress: (text: string) => void): Promise<string> {
  const report = buildScanReport(threshold);
  const { rows, tags, calibration, scan } = useScanStore.getState();
  const encoder = useEncoderStore.getState().encoder;
  const run = useTrainStore.getState().run;
  const flagged = rows.filter((r) => r.score > threshold).sort((a, b) => b.score - a.score);
  const top = flagged.slice(0, HTML_TOP_FLAGGED);
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
      original: pngDataUrl(rgb, d.layout.size, d.layout.size), heatmap: explained.get(`${r.datasetId}:${r.slot}`)?.heatmap ?? null });
  }
  const set = evaluationSet(rows, tags, negatives);
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
  const suspect = rows.filter((r) => r.role !== 'poisoned').map((r) => r.score);
  const poisoned = rows.filter((r) => r.role === 'poisoned').map((r) => r.score);
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
  return buildHtmlReport({
    report,
    encoderFacts: { Repository: encoder?.repo ?? null, Revision: encoder?.revision ?? null, Commit: encoder?.commit ?? null, Origin: encoder?.origin ?? null, Source: encoder?.sourceUrl ?? null },
    decoderFacts: { 'Training run': run?.runId ?? null, Imported: run ? String(run.imported) : null, Steps: run ? String(run.step) : null },
    calibratedThreshold: scan?.threshold ?? threshold,
    folders: [...folderCounts(rows, threshold).values()].map((f) => ({ ...f, role: ROLE_LABEL[f.role] })),
    histogramSvg: hist,
    evaluation,
    top: images,
    flaggedTotal: flagged.length,
    triggerMap: trigger,
    clusters: reportClusters(clusters, scan?.scanId, encoder?.preprocessing ?? null),
    colormap: COLORMAP_NAME,
    privacy: { policies: policiesInForce(), network: ledgerHeadline(networkLedger.summary()) },
    tagged: rows.filter((r) => tags[`${r.datasetId}:${r.slot}`]).map((r) => ({ path: r.path, folder: r.datasetName, tag: tags[`${r.datasetId}:${r.slot}`]!, score: r.score, flagged: r.score > threshold })),
  });
}

/** kept/ and flagged/ folders of PNGs at working resolution, with the CSV and a note. */
export async function buildImageZip(threshold: number, onProgress: (done: number, total: number) => void): Promise<Blob> {
  const { rows, scan } = useScanStore.getState();
  const report = buildScanReport(threshold);
  const parts: Uint8Array[] = [];
  let failure: Error | null = null;
  const zip = new Zip((err, data) => {
    if (err) failure = err;
    else parts.push(data);
  });
  const add = (name: string, data: Uint8Array) => {
    const f = new ZipPassThrough(name);
    zip.add(f);
    f.push(data, true);
  };
  const byDataset = new Map<string, Map<number, ScanRow>>();
  for (const r of rows) {
    const m = byDataset.get(r.datasetId) ?? new Map<number, ScanRow>();
    m.set(r.slot, r);
    byDataset.set(r.datasetId, m);
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
        const r = slots.get(from + i);
        if (!r) continue;
        add(zipEntryName(r.score > threshold ? 'flagged' : 'kept', r.path, taken), encodePng(pixels.subarray(i * per, (i + 1) * per), d.layout.size, d.layout.size));
        if (++done % 64 === 0) {
          onProgress(done, rows.length);
          await yieldToPage();
        }
      }
    }
  }
  add('report.csv', strToU8(scanReportCsv(report)));
  add(
    'README.txt',
    strToU8(
      `DeDe scan ${scan?.scanId ?? ''}: ${report.summary.flagged} flagged of ${report.summary.scanned} images at threshold ${threshold}.\n` +
        `Images are re-encoded as PNG from the pixels the app stored, at the working resolution (${[...sizes].map((s) => `${s}×${s}`).join(', ')}), ` +
        'not the original files. kept/ holds images at or below the threshold, flagged/ those above it; report.csv lists every image.\n',
    ),
  );
  zip.end();
  onProgress(rows.length, rows.length);
  if (failure) throw failure;
  return new Blob(parts as BlobPart[], { type: 'application/zip' });
}
