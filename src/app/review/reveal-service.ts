// Reveal for the Review step: the flagged rows of the current scan clustered by embedding, each
// cluster's decoded target and trigger map, and the clean photos the encoder sees it as (reveal by
// example, docs/ARCHITECTURE.md §5.7.1), mapped back to rows and paths the views and reports show.
import { exampleLabel, type ExampleMatch, type NeighbourScale, type RevealExamples } from '../../core/dede/reveal-examples';
import { getBackend } from '../backend/backend-service';
import { workerJob } from '../backend/model-client';
import { useEncoderStore } from '../encoder/encoder-store';
import { datasetPaths } from '../images/images-service';
import { useImagesStore, type DatasetSummary } from '../images/images-store';
import { cleanDataset } from '../scan/scan-service';
import { useScanStore, type ScanRow } from '../scan/scan-store';
import { useTrainStore } from '../train/train-store';
import { datasetRef, encoderFileRef } from '../workflow/refs';

/** A clean photo shown as an example of what a cluster's embedding looks like to the encoder. */
export interface ExamplePhoto {
  readonly datasetId: string;
  readonly slot: number;
  readonly path: string;
  /** Its class folder, or null for a photo directly in the dropped folder. */
  readonly label: string | null;
  /** Centred cosine to the cluster's mean embedding. */
  readonly similarity: number;
}

export interface ClusterExamples {
  /** The clean folder the examples come from. */
  readonly folder: string;
  readonly nearest: readonly ExamplePhoto[];
  /** Class folders, best first (empty for a folder without class folders). */
  readonly labels: readonly { readonly label: string; readonly similarity: number; readonly count: number; readonly nearest: readonly ExamplePhoto[] }[];
  readonly scale: NeighbourScale;
  readonly nearestPercentile: number;
}

export interface RevealedCluster {
  readonly size: number;
  readonly cohesion: number;
  /** Decoded target, RGB at the working size. */
  readonly target: Float32Array;
  /** Whether the target was brought to the contrast of clean photos (absent in clusters saved before it was). */
  readonly contrastRestored?: boolean;
  readonly triggerMap: { readonly map: Float32Array; readonly peak: { readonly x: number; readonly y: number }; readonly side: number } | null;
  readonly members: readonly ScanRow[];
  readonly examples: ClusterExamples;
}

/** The caption under a revealed target (view and report). */
export function targetCaption(c: Pick<RevealedCluster, 'contrastRestored'>): string {
  return `the cluster’s embedding decoded${c.contrastRestored ? ' (contrast matched)' : ''}: a texture, not the target`;
}

const sim = (v: number) => v.toFixed(2);

/** The answer in one sentence: the class the encoder sees the cluster as, and by how much (view and report). */
export function examplesHeadline(e: ClusterExamples): string {
  const [first, second] = e.labels;
  if (first) {
    return `The encoder sees these photos as “${first.label}”: its ${Math.min(3, first.count)} nearest “${first.label}” photos sit at similarity ${sim(first.similarity)}` +
      (second ? `, the next class folder, “${second.label}”, at ${sim(second.similarity)}.` : '.');
  }
  return `The encoder sees these photos as the clean photos below (from “${e.folder}”; put the clean photos in class folders to have the class named).`;
}

/** How close the nearest example sits, against how close clean photos sit to each other (view and report). */
export function examplesScale(e: ClusterExamples): string {
  const top = e.nearest[0];
  if (!top || !Number.isFinite(e.nearestPercentile)) return '';
  return `Nearest clean photo at similarity ${sim(top.similarity)}, closer than ${(e.nearestPercentile * 100).toFixed(0)}% of ${e.scale.n} clean photos are to their own nearest neighbour (median ${sim(e.scale.median)}, 95th percentile ${sim(e.scale.p95)}). Similarity: the cosine after removing the clean photos’ mean embedding.`;
}

/** The examples to show first: the top class's nearest photos, or the nearest of all. */
export function shownExamples(e: ClusterExamples): readonly ExamplePhoto[] {
  return e.labels[0]?.nearest ?? e.nearest;
}

/** The nearest of all clean photos, when they are not the photos shownExamples already shows; else null. */
export function otherNearest(e: ClusterExamples): readonly ExamplePhoto[] | null {
  const shown = shownExamples(e);
  return e.nearest.some((p) => !shown.some((s) => s.slot === p.slot)) ? e.nearest : null;
}

/** The title over shownExamples (view and report). */
export function shownTitle(e: ClusterExamples): string {
  return e.labels[0] ? `Nearest “${e.labels[0].label}” photos` : 'Nearest clean photos';
}

function clusterExamples(ex: RevealExamples, clean: DatasetSummary, paths: readonly string[], labels: readonly (string | null)[]): ClusterExamples {
  const photo = (m: ExampleMatch): ExamplePhoto => ({ datasetId: clean.id, slot: m.index, path: paths[m.index] ?? `#${m.index}`, label: labels[m.index] ?? null, similarity: m.similarity });
  return {
    folder: clean.name,
    nearest: ex.nearest.map(photo),
    labels: ex.labels.map((l) => ({ label: l.label, similarity: l.similarity, count: l.count, nearest: l.nearest.map(photo) })),
    scale: ex.scale,
    nearestPercentile: ex.nearestPercentile,
  };
}

/** Clusters the flagged rows of the current scan, decodes what each maps to and finds its nearest clean photos; `signal` cancels it. */
export async function revealClusters(rows: readonly ScanRow[], signal?: AbortSignal): Promise<RevealedCluster[]> {
  const scan = useScanStore.getState().scan;
  const cal = useScanStore.getState().calibration;
  const encoder = useEncoderStore.getState().encoder;
  const run = useTrainStore.getState().run;
  const clean = cleanDataset();
  if (!scan || !cal || !encoder?.preprocessing || !run?.decoderPath || !clean) throw new Error('Scan first: the encoder, decoder, calibration or clean folder is missing.');
  const datasets = useImagesStore.getState().datasets;
  const folders = scan.datasets.map((d) => datasets.find((x) => x.id === d.id)).filter((d): d is DatasetSummary => d !== undefined && d.status === 'ready');
  if (folders.length !== scan.datasets.length) throw new Error('A scanned folder was removed; scan again.');
  const offsets = new Map<string, number>();
  folders.reduce((o, d) => (offsets.set(d.id, o), o + d.counts.images), 0);
  const index = (r: ScanRow) => offsets.get(r.datasetId)! + r.slot;
  const byIndex = new Map(rows.map((r) => [index(r), r]));
  const flagged = rows.filter((r) => r.flagged).sort((a, b) => (b.collapseScore ?? b.score) - (a.collapseScore ?? a.score));
  if (flagged.length === 0) return [];
  const priority = new Array<number>(folders.reduce((a, d) => a + d.counts.images, 0)).fill(0);
  for (const r of rows) priority[index(r)] = r.collapseScore ?? r.score;
  const cleanPaths = await datasetPaths(clean);
  const cleanLabels = cleanPaths.map(exampleLabel);
  const backend = await getBackend();
  const targets = await workerJob(backend, signal, (jobId) => backend.api.reveal(jobId, {
    encoder: encoderFileRef(encoder),
    folders: folders.map(datasetRef),
    flagged: flagged.map(index),
    priority,
    clean: datasetRef(clean),
    cleanSlots: cal.slots,
    preprocessing: encoder.preprocessing!,
    decoderPath: run.decoderPath!,
    cleanLabels,
  }));
  return targets.map((t) => ({
    size: t.members.length,
    cohesion: t.cohesion,
    target: t.target,
    contrastRestored: t.contrastRestored,
    triggerMap: t.triggerMap ? { map: t.triggerMap.map, peak: t.triggerMap.peak, side: t.triggerMap.width } : null,
    members: Array.from(t.members, (i) => byIndex.get(i)).filter((r): r is ScanRow => r !== undefined),
    examples: clusterExamples(t.examples, clean, cleanPaths, cleanLabels),
  }));
}
