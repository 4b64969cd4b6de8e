// Loading folders into datasets: decode in the worker pool, in path order, a chunk at a time, and
// write each chunk to storage as soon as it fills, so memory stays bounded whatever the folder size.
import { DatasetAccumulator } from '../../core/images/accumulator';
import { chunkCount, chunkOfSlot, guessRole, layoutFor, type DatasetManifest, type DatasetRole, type FitMode } from '../../core/images/dataset';
import type { ResizePlan } from '../../core/images/resize-plan';
import { useEncoderStore, type EncoderRecord } from '../encoder/encoder-store';
import { MAX_SIDE_DEFAULT } from '../../core/images/reasons';
import { isQuotaError } from '../../core/hub/store';
import { storageFullMessage } from '../../core/workflow/storage-full';
import type { DecodeOptions, DecodeRequest } from '../../../workers/image-api';
import { datasetStorage, type DatasetStorage } from '../../core/workflow/dataset-storage';
import { sharedPool, type ImagePool } from './image-pool';
import { LIST_CAP, useImagesStore, type DatasetSummary, type LoadProgress } from './images-store';
import type { FolderSource, SourceFile } from './sources';
import { errorText } from '../../core/runtime/error-text';

const BATCH = 16;
const PROGRESS_EVERY_MS = 150;

export interface LoadOptions {
  readonly size: number;
  readonly fit: FitMode;
  /** An encoder's resize plan (output size×size), used instead of `fit`. */
  readonly resize?: ResizePlan | null;
  readonly maxSide?: number;
  readonly role?: DatasetRole;
  readonly onProgress?: (progress: LoadProgress, summary: DatasetSummary) => void;
  readonly signal?: AbortSignal;
}

function newId(): string {
  return `ds-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

function summaryOf(
  id: string,
  name: string,
  role: DatasetRole,
  acc: DatasetAccumulator,
  fit: FitMode,
  resize: string | null,
  storage: DatasetStorage,
  createdAt: string,
  status: DatasetSummary['status'],
  loadSeconds: number | null,
  error: string | null,
): DatasetSummary {
  return {
    id,
    name,
    role,
    status,
    layout: acc.layout,
    fit,
    resize,
    counts: acc.counts,
    chunks: acc.chunks,
    unreadable: acc.unreadable.slice(0, LIST_CAP),
    duplicates: acc.duplicates.slice(0, LIST_CAP),
    mismatched: acc.mismatched.slice(0, LIST_CAP),
    persistent: storage.persistent,
    createdAt,
    loadSeconds,
    error,
  };
}

/**
 * Loads one folder as a dataset. Bad files are listed, never fatal; cancelling keeps what was
 * loaded so far (status 'cancelled'). Resolves with the final summary.
 */
export async function loadFolder(
  source: FolderSource,
  options: LoadOptions,
  pool: ImagePool = sharedPool(),
  storage: DatasetStorage = datasetStorage(),
  id = newId(),
): Promise<DatasetSummary> {
  const layout = layoutFor(options.size);
  const role = options.role ?? guessRole(source.name);
  // Take the files over (the caller's list is left empty) and drop each batch once it is sent.
  const files: (SourceFile | undefined)[] = source.files.splice(0);
  const total = files.length;
  const acc = new DatasetAccumulator(layout, total);
  const createdAt = new Date().toISOString();
  const started = performance.now();
  const decodeOptions: DecodeOptions = {
    size: layout.size,
    thumbSize: layout.separateThumbs ? layout.thumbSize : null,
    maxSide: options.maxSide ?? MAX_SIDE_DEFAULT,
    fit: options.fit,
    resize: options.resize ?? null,
  };
  const resize = options.resize?.description ?? null;
  const summary = (status: DatasetSummary['status'], error: string | null = null) =>
    summaryOf(id, source.name, role, acc, options.fit, resize, storage, createdAt, status, status === 'loading' ? null : (performance.now() - started) / 1000, error);

  let lastReport = 0;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!force && now - lastReport < PROGRESS_EVERY_MS) return;
    lastReport = now;
    const done = acc.counts.processed;
    const seconds = (now - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const remaining = total - done;
    options.onProgress?.({ done, total, imagesPerSecond: rate, etaSeconds: rate > 0 ? remaining / rate : null }, summary('loading'));
  };

  // Batches are cut from the file list as they are sent, and run ahead in the pool but are
  // committed in order, so slots follow path order and the first of identical files is the one
  // that sorts first. Only the batches in flight hold File objects and paths.
  const pending: { readonly paths: readonly string[]; readonly results: ReturnType<ImagePool['decode']> }[] = [];
  let launched = 0;
  const launch = () => {
    while (launched < total && pending.length < pool.window) {
      const requests: DecodeRequest[] = [];
      for (const end = Math.min(total, launched + BATCH); launched < end; launched++) {
        const f = files[launched]!;
        files[launched] = undefined;
        requests.push({ id: requests.length, file: f.file, path: f.path });
      }
      pending.push({ paths: requests.map((r) => r.path), results: pool.decode(requests, decodeOptions) });
    }
  };
  // The duplicate list names each group's first file; when that file's chunk is already written,
  // its path is read back from the chunk's entries rather than kept in memory for every image.
  const nameFirsts = async () => {
    const slots = acc.unnamed;
    if (slots.length === 0) return;
    const byChunk = new Map<number, number[]>();
    for (const slot of slots) {
      const { chunk } = chunkOfSlot(layout, slot);
      byChunk.set(chunk, [...(byChunk.get(chunk) ?? []), slot]);
    }
    for (const [chunk, wanted] of byChunk) {
      // A chunk that cannot be read back fails the load elsewhere; here it only costs the name.
      const entries = await storage.readEntries(id, chunk).catch(() => []);
      const offset = chunk * layout.imagesPerChunk;
      for (const slot of wanted) {
        const entry = entries[slot - offset];
        acc.nameSlot(slot, entry?.slot === slot ? entry.path : `#${slot}`);
      }
    }
  };
  let status: DatasetSummary['status'] = 'ready';
  let error: string | null = null;
  try {
    report(true);
    launch();
    while (pending.length > 0) {
      if (options.signal?.aborted) {
        status = 'cancelled';
        await Promise.allSettled(pending.splice(0).map((p) => p.results));
        break;
      }
      const batch = pending.shift()!;
      const results = await batch.results;
      launch();
      for (const r of results) {
        const path = batch.paths[r.id]!;
        if (!r.ok) {
          acc.addUnreadable({ path, bytes: r.bytes, kind: r.kind, reason: r.reason });
          continue;
        }
        const ready = acc.addImage({ path, bytes: r.bytes, format: r.format, width: r.width, height: r.height, sha256: r.sha256, note: r.note, pixels: r.pixels, thumb: r.thumb });
        if (ready) await storage.writeChunk(id, ready);
      }
      await nameFirsts();
      report(false);
    }
    const last = acc.finish();
    if (last) await storage.writeChunk(id, last);
    await nameFirsts();
  } catch (err) {
    await Promise.allSettled(pending.splice(0).map((p) => p.results));
    status = 'failed';
    error = isQuotaError(err)
      ? storageFullMessage(`the images of “${source.name}”`)
      : `Loading stopped: ${errorText(err)}`;
  }
  const final = summary(status, error);
  const manifest: DatasetManifest = {
    version: 1,
    id,
    name: source.name,
    role,
    layout,
    fit: options.fit,
    resize,
    status,
    counts: acc.counts,
    chunks: acc.chunks,
    unreadable: acc.unreadable,
    duplicates: acc.duplicates,
    mismatched: acc.mismatched,
    createdAt,
    loadSeconds: final.loadSeconds,
  };
  try {
    await storage.writeManifest(manifest);
  } catch (err) {
    // When loading already failed, that is the cause worth showing; the manifest failing follows from it.
    const why = isQuotaError(err) ? storageFullMessage(`the list of “${source.name}”`) : `Could not save the dataset: ${errorText(err)}`;
    return { ...final, status: 'failed', error: final.error ?? why };
  }
  return final;
}

const controllers = new Map<string, AbortController>();

/**
 * Folders added while an encoder is loaded are stored at its input size through its own
 * preprocessing (resize, crop, filter): the working resolution follows the encoder. Without an
 * encoder, or for a non-square input, the user's working size and fit apply. Returns the unsubscribe.
 */
export function followEncoder(): () => void {
  const apply = (encoder: EncoderRecord | null) => {
    const p = encoder?.preprocessing ?? null;
    const { setResizePlan, setWorkingSize } = useImagesStore.getState();
    if (!p || p.height !== p.width) {
      setResizePlan(null);
      return;
    }
    setWorkingSize(p.height);
    setResizePlan(p.resize ?? null);
  };
  apply(useEncoderStore.getState().encoder);
  return useEncoderStore.subscribe((state, prev) => {
    if (state.encoder !== prev.encoder) apply(state.encoder);
  });
}

/** The loaded encoder's resize plan when it makes images of the working size, else null (`fit`). */
function planFor(workingSize: number): ResizePlan | null {
  const plan = useImagesStore.getState().resizePlan;
  return plan && plan.width === workingSize && plan.height === workingSize ? plan : null;
}

/** Adds folders as datasets (one at a time, each in the store at once) and loads them. */
export async function addFolders(folders: readonly FolderSource[]): Promise<void> {
  const store = useImagesStore.getState();
  const jobs = folders.map((folder) => {
    const id = newId();
    const layout = layoutFor(store.workingSize);
    const storage = datasetStorage();
    const acc = new DatasetAccumulator(layout, folder.files.length);
    const initial = summaryOf(id, folder.name, guessRole(folder.name), acc, store.fit, planFor(store.workingSize)?.description ?? null, storage, new Date().toISOString(), 'loading', null, null);
    store.upsert(initial);
    store.setProgress(id, { done: 0, total: folder.files.length, imagesPerSecond: 0, etaSeconds: null });
    const controller = new AbortController();
    controllers.set(id, controller);
    return { id, folder, controller };
  });
  for (const job of jobs) {
    const { workingSize, fit } = useImagesStore.getState();
    const current = useImagesStore.getState().datasets.find((d) => d.id === job.id);
    if (!current) continue; // removed before its turn
    if (job.controller.signal.aborted) {
      useImagesStore.getState().patch(job.id, { status: 'cancelled', loadSeconds: 0 });
      useImagesStore.getState().setProgress(job.id, null);
      await datasetStorage().writeManifest(manifestOfEmpty(current));
      continue;
    }
    try {
      const final = await loadFolder(job.folder, {
        size: workingSize,
        fit,
        resize: planFor(workingSize),
        role: current.role,
        signal: job.controller.signal,
        onProgress: (p, s) => {
          const st = useImagesStore.getState();
          if (!st.datasets.some((d) => d.id === job.id)) return;
          st.setProgress(job.id, p);
          st.patch(job.id, { counts: s.counts, unreadable: s.unreadable, duplicates: s.duplicates, mismatched: s.mismatched, chunks: s.chunks });
        },
      }, sharedPool(), datasetStorage(), job.id);
      const st = useImagesStore.getState();
      const still = st.datasets.find((d) => d.id === job.id);
      if (still) st.upsert({ ...final, role: still.role });
      else await datasetStorage().remove(job.id); // removed while loading
    } finally {
      controllers.delete(job.id);
      useImagesStore.getState().setProgress(job.id, null);
    }
  }
}

function manifestOfEmpty(d: DatasetSummary): DatasetManifest {
  return { version: 1, id: d.id, name: d.name, role: d.role, layout: d.layout, fit: d.fit, resize: d.resize ?? null, status: 'cancelled', counts: d.counts, chunks: 0, unreadable: [], duplicates: [], mismatched: [], createdAt: d.createdAt, loadSeconds: 0 };
}

export function cancelLoading(id: string): void {
  controllers.get(id)?.abort();
}

export async function removeDataset(id: string): Promise<void> {
  controllers.get(id)?.abort();
  useImagesStore.getState().remove(id);
  await datasetStorage().remove(id);
}

export async function setDatasetRole(id: string, role: DatasetRole): Promise<void> {
  useImagesStore.getState().setRole(id, role);
  const storage = datasetStorage();
  const manifest = await storage.readManifest(id);
  if (manifest) await storage.writeManifest({ ...manifest, role });
}

/** Every image's path in a stored folder, by slot. */
export async function datasetPaths(dataset: DatasetSummary): Promise<string[]> {
  const storage = datasetStorage();
  const paths: string[] = [];
  for (let c = 0; c < chunkCount(dataset.layout, dataset.counts.images); c++) {
    for (const e of await storage.readEntries(dataset.id, c)) paths[e.slot] = e.path;
  }
  return paths;
}
