// What a revealed cluster is, and the words the clusters card and the reports show for it (reveal
// by example, docs/ARCHITECTURE.md §5.7.1). Plain data and text: no stores, no worker.
import type { NeighbourScale } from '../../core/dede/reveal-examples';
import type { ScanRow } from '../scan/scan-store';

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
