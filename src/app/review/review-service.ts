// Pixels and explanations for Review and Report: thumbnails and originals from dataset storage
// (a small per-chunk cache), reconstructions and error maps from the model worker's `explain`.
import type { ImageExplanation } from '../../core/workflow/scoring';
import { chunkOfSlot, type DatasetLayout } from '../../core/images/dataset';
import { sumChannels } from '../../core/report/image-maps';
import { getBackend } from '../backend/backend-service';
import { workerJob } from '../backend/model-client';
import { useEncoderStore } from '../encoder/encoder-store';
import { datasetStorage } from '../../core/workflow/dataset-storage';
import { useImagesStore, type DatasetSummary } from '../images/images-store';
import type { ScanRow } from '../scan/scan-store';
import { useTrainStore } from '../train/train-store';
import { datasetRef, encoderFileRef } from '../workflow/refs';
import type { TriggerMap } from './review-store';

export function datasetOf(datasetId: string): DatasetSummary {
  const d = useImagesStore.getState().datasets.find((x) => x.id === datasetId);
  if (!d) throw new Error('This image’s folder was removed from the Images step.');
  return d;
}

const THUMB_CHUNKS_KEPT = 8;
const thumbChunks = new Map<string, Promise<Uint8Array>>();

function thumbChunk(d: DatasetSummary, chunk: number): Promise<Uint8Array> {
  const key = `${d.id}:${d.createdAt}:${chunk}`;
  let p = thumbChunks.get(key);
  if (p) {
    thumbChunks.delete(key); // LRU: re-insert as newest
    thumbChunks.set(key, p);
    return p;
  }
  const from = chunk * d.layout.imagesPerChunk;
  const count = Math.min(d.layout.imagesPerChunk, d.counts.images - from);
  p = datasetStorage().readThumbs(d.id, d.layout, from, count);
  p.catch(() => thumbChunks.delete(key));
  thumbChunks.set(key, p);
  while (thumbChunks.size > THUMB_CHUNKS_KEPT) thumbChunks.delete(thumbChunks.keys().next().value!);
  return p;
}

/** One thumbnail as interleaved RGB, thumbSize² · 3 bytes. */
export async function readThumb(datasetId: string, slot: number): Promise<{ rgb: Uint8Array; size: number }> {
  const d = datasetOf(datasetId);
  const { chunk, offset } = chunkOfSlot(d.layout, slot);
  const bytes = await thumbChunk(d, chunk);
  const per = d.layout.thumbSize * d.layout.thumbSize * 3;
  return { rgb: bytes.subarray(offset * per, (offset + 1) * per), size: d.layout.thumbSize };
}

/** The stored working-resolution pixels of one image (interleaved RGB). */
export async function readOriginal(datasetId: string, slot: number): Promise<{ rgb: Uint8Array; size: number; layout: DatasetLayout }> {
  const d = datasetOf(datasetId);
  return { rgb: await datasetStorage().readPixels(d.id, d.layout, slot, 1), size: d.layout.size, layout: d.layout };
}

export function explainProblems(): string | null {
  const encoder = useEncoderStore.getState().encoder;
  const run = useTrainStore.getState().run;
  if (!encoder?.check.ok || !encoder.preprocessing) return 'Load the encoder again (Encoder step) to see reconstructions.';
  if (!run?.decoderPath) return 'The trained decoder is missing (Train step).';
  return null;
}

/** Reconstructions and error maps of images of one folder, through the model worker. */
export async function explainSlots(datasetId: string, slots: readonly number[], signal?: AbortSignal): Promise<ImageExplanation[]> {
  const problem = explainProblems();
  if (problem) throw new Error(problem);
  const encoder = useEncoderStore.getState().encoder!;
  const run = useTrainStore.getState().run!;
  const backend = await getBackend();
  return workerJob(backend, signal, (jobId) => backend.api.explain(jobId, {
    encoder: encoderFileRef(encoder),
    dataset: datasetRef(datasetOf(datasetId)),
    preprocessing: encoder.preprocessing!,
    decoderPath: run.decoderPath!,
    slots,
  }));
}

/** Explanations for rows of any folders, keyed by `${datasetId}:${slot}`, in batches. */
export async function explainRows(rows: readonly Pick<ScanRow, 'datasetId' | 'slot'>[], batch = 16, onEach?: (key: string, e: ImageExplanation) => void, signal?: AbortSignal): Promise<void> {
  const byDataset = new Map<string, number[]>();
  for (const r of rows) {
    const list = byDataset.get(r.datasetId) ?? [];
    list.push(r.slot);
    byDataset.set(r.datasetId, list);
  }
  for (const [datasetId, slots] of byDataset) {
    for (let i = 0; i < slots.length; i += batch) {
      const out = await explainSlots(datasetId, slots.slice(i, i + batch), signal);
      for (const e of out) onEach?.(`${datasetId}:${e.slot}`, e);
    }
  }
}

/** Evenly spaced picks of up to n items (deterministic, spread across the whole list). */
export function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!);
}

export const TRIGGER_MAP_N = 64;

/**
 * Mean per-pixel error (summed over channels) of up to `n` flagged images (highest scores) minus that
 * of up to `n` unflagged ones (spread over the unflagged scores). The reduction runs batch by batch
 * on small [H, W] maps, so the page never holds more than one batch of explanations.
 */
export async function computeTriggerMap(scanId: string, rows: readonly ScanRow[], threshold: number, n: number, onProgress: (done: number, total: number) => void, signal?: AbortSignal): Promise<TriggerMap> {
  const flagged = rows.filter((r) => r.score > threshold).sort((a, b) => b.score - a.score).slice(0, n);
  const unflagged = spread(rows.filter((r) => !(r.score > threshold)).sort((a, b) => a.score - b.score), n);
  if (flagged.length === 0 || unflagged.length === 0) throw new Error('The trigger map needs both flagged and unflagged images at this threshold.');
  const total = flagged.length + unflagged.length;
  let done = 0;
  let side = 0;
  const mean = async (group: ScanRow[]): Promise<Float32Array> => {
    let acc: Float32Array | null = null;
    await explainRows(group, 16, (_key, e) => {
      const m = sumChannels(e.pixelError);
      if (!acc) {
        acc = new Float32Array(m.length);
        side = Math.round(Math.sqrt(m.length));
      }
      for (let i = 0; i < m.length; i++) acc[i]! += m[i]!;
      onProgress(++done, total);
    }, signal);
    const a = acc as Float32Array | null;
    if (!a) throw new Error('No explanations came back.');
    for (let i = 0; i < a.length; i++) a[i]! /= group.length;
    return a;
  };
  const flaggedMean = await mean(flagged);
  const unflaggedMean = await mean(unflagged);
  const diff = flaggedMean.map((v, i) => v - unflaggedMean[i]!);
  return { scanId, threshold, side, diff, flaggedMean, unflaggedMean, flaggedN: flagged.length, unflaggedN: unflagged.length };
}
