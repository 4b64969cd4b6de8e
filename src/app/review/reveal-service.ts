// Reveal for the Review step: the flagged rows of the current scan clustered by embedding, each
// cluster's decoded target and trigger map, and the clean photos the encoder sees it as (reveal by
// example, docs/ARCHITECTURE.md §5.7.1), mapped back to rows and paths the views and reports show.
import { exampleLabel, type ExampleMatch, type RevealExamples } from '../../core/dede/reveal-examples';
import { getBackend } from '../backend/backend-service';
import { workerJob } from '../backend/model-client';
import { useEncoderStore } from '../encoder/encoder-store';
import { datasetPaths } from '../images/images-service';
import { useImagesStore, type DatasetSummary } from '../images/images-store';
import { cleanDataset } from '../scan/scan-service';
import { useScanStore, type ScanRow } from '../scan/scan-store';
import { useTrainStore } from '../train/train-store';
import { datasetRef, encoderFileRef } from '../workflow/refs';
import type { ClusterExamples, ExamplePhoto, RevealedCluster } from './reveal-text';

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
