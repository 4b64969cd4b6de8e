// The app's set-level verdict: the scanned folders' decoder scores fused with their collapse
// scores (how tightly the folder's embeddings bunch up), each calibrated on the clean folder.
// Embeddings come from the per-(encoder, image set) cache, so this adds no encoder runs.
import { pixelFingerprints, type EmbeddingSet, type Rows } from '../dede/collapse';
import type { EncoderSource } from '../dede/encoder-runner';
import { collapseGateOf, scoreFolderSet, type CollapseGate, type FolderSetResult } from '../dede/set-scan';
import type { Preprocessing } from '../images/preprocess';
import type { Runtime } from '../runtime/session';
import { ensureEmbeddings, type PixelSource } from './embeddings';
import type { FileStore } from './files';
import { concatArrays } from '../concat';

export interface VerdictRequest {
  readonly encoder: EncoderSource;
  /** The scanned folders, treated as one set, in the order of `decoderScores`. */
  readonly folders: readonly PixelSource[];
  /** Per-image robust decoder scores of the folders, concatenated in folder order. */
  readonly decoderScores: readonly number[];
  readonly clean: PixelSource;
  /** Decoder scores of held-back clean images (the calibration's). */
  readonly cleanDecoderScores: readonly number[];
  readonly preprocessing: Preprocessing;
  readonly targetFpr: number;
  readonly k?: number;
}

async function fingerprintsOf(source: PixelSource): Promise<Rows> {
  const chunk = 512;
  const parts: Float32Array[] = [];
  let dim = 0;
  for (let from = 0; from < source.count; from += chunk) {
    const n = Math.min(chunk, source.count - from);
    const rows = pixelFingerprints(await source.readRgb(from, n), { channels: 3, height: source.height, width: source.width }, { layout: 'hwc' });
    parts.push(rows.data);
    dim = rows.dim;
  }
  return { data: concat(parts), dim };
}

function concat(parts: readonly Float32Array[]): Float32Array {
  return concatArrays(Float32Array, parts);
}

/**
 * The scanned folders as one set and the clean reference: their cached embeddings (computed where
 * missing) and pixel fingerprints, what both the collapse gate and the fused verdict read.
 */
async function setEmbeddings(runtime: Runtime, files: FileStore, req: Pick<VerdictRequest, 'encoder' | 'folders' | 'clean' | 'preprocessing'>, signal?: AbortSignal): Promise<{ folder: EmbeddingSet; clean: EmbeddingSet; count: number }> {
  const embed = (s: PixelSource) => ensureEmbeddings(runtime, files, req.encoder, s, req.preprocessing, signal ? { signal } : {});
  const folderEmb = await Promise.all(req.folders.map(embed));
  const cleanEmb = await embed(req.clean);
  const folderPrints = await Promise.all(req.folders.map(fingerprintsOf));
  return {
    folder: { embeddings: { data: concat(folderEmb.map((e) => e.data)), dim: folderEmb[0]?.dim ?? 0 }, fingerprints: { data: concat(folderPrints.map((f) => f.data)), dim: folderPrints[0]?.dim ?? 0 } },
    clean: { embeddings: { data: cleanEmb.data, dim: cleanEmb.dim }, fingerprints: await fingerprintsOf(req.clean) },
    count: folderEmb.reduce((a, e) => a + e.count, 0),
  };
}

/**
 * The verdict's collapse gate over the scan's folders, from the embeddings cache, before any decoder
 * score exists (docs/ARCHITECTURE.md §8.6): the same decision fusedVerdict will make on them.
 */
export async function collapseGateFromCache(runtime: Runtime, files: FileStore, req: Pick<VerdictRequest, 'encoder' | 'folders' | 'clean' | 'preprocessing'>, signal?: AbortSignal): Promise<CollapseGate> {
  const { folder, clean } = await setEmbeddings(runtime, files, req, signal);
  return collapseGateOf(folder, clean);
}

export async function fusedVerdict(runtime: Runtime, files: FileStore, req: VerdictRequest, signal?: AbortSignal): Promise<FolderSetResult> {
  const { folder, clean, count } = await setEmbeddings(runtime, files, req, signal);
  if (count !== req.decoderScores.length) throw new Error(`verdict: ${req.decoderScores.length} decoder scores for ${count} scanned images`);
  return scoreFolderSet(
    { ...folder, dedeScores: req.decoderScores, cleanRef: { ...clean, dedeScores: req.cleanDecoderScores } },
    { targetFpr: req.targetFpr, ...(req.k !== undefined ? { k: req.k } : {}) },
  );
}

/**
 * The per-image verdict as columns, for the page: typed arrays cross the worker boundary as
 * transferables, where an object per image would cost the page's heap ~200 B each.
 */
export interface VerdictTable {
  readonly score: Float64Array;
  readonly fusedP: Float64Array;
  readonly collapseScore: Float64Array;
  readonly collapsePValue: Float64Array;
  /** 1 = flagged. */
  readonly flagged: Uint8Array;
  readonly targetFpr: number;
  readonly k: number;
  readonly cleanCollapseCount: number;
  /** Each component's share of α (weighted Bonferroni), null for Fisher. */
  readonly weights: FolderSetResult['weights'];
  /** The collapse gate: whether the folder showed collapse (see set-scan.ts). */
  readonly gate: FolderSetResult['gate'];
}

export function verdictTable(r: FolderSetResult): VerdictTable {
  const n = r.images.length;
  const column = (pick: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => pick(i));
  return {
    score: column((i) => r.images[i]!.score),
    fusedP: column((i) => r.images[i]!.fusedP),
    collapseScore: column((i) => r.images[i]!.collapseScore),
    collapsePValue: column((i) => r.images[i]!.collapsePValue),
    flagged: Uint8Array.from({ length: n }, (_, i) => (r.images[i]!.flagged ? 1 : 0)),
    targetFpr: r.targetFpr,
    k: r.k,
    cleanCollapseCount: r.cleanCollapseCount,
    weights: r.weights,
    gate: r.gate,
  };
}
