// Embedding the suspect folders while the decoder trains (docs/ARCHITECTURE.md §8.6). The encoder is
// needed for the scan anyway, and the user is waiting for training: at each epoch end the run spends
// a bounded share of the epoch's time embedding the next chunks, so the scan after training finds
// the embeddings in the cache; once every folder is in, the verdict's collapse gate is decided from
// them and shown while training goes on. Prefetching never fails or delays a run by much: a folder
// it cannot embed is left to the scan, which reports the problem where the user looks for it.
import type { EncoderSource } from '../dede/encoder-runner';
import type { Preprocessing } from '../images/preprocess';
import type { Runtime } from '../runtime/session';
import { EmbeddingJob, type PixelSource } from './embeddings';
import type { FileStore } from './files';

/** The most of each epoch's time spent embedding between epochs (a chunk always runs when one is pending). */
export const PREFETCH_SHARE = 0.25;

/**
 * The most work (multiply-adds, n·(n+M)·dim for n folder and M clean images) the early collapse
 * gate may take between two epochs, a few seconds on a CPU; larger sets wait for the scan.
 */
export const EARLY_GATE_MAX_WORK = 2e9;

export function earlyGateAffordable(folderImages: number, cleanImages: number, dim: number): boolean {
  return folderImages * (folderImages + cleanImages) * dim <= EARLY_GATE_MAX_WORK;
}

export interface PrefetchProgress {
  /** The folder (PixelSource id) being embedded. */
  readonly source: string;
  readonly done: number;
  readonly total: number;
  /** Folders finished (embedded or already cached) and in all. */
  readonly finished: number;
  readonly folders: number;
}

export class EmbeddingPrefetch {
  private next = 0;
  private job: EmbeddingJob | null = null;
  private finished = 0;
  private last: number;
  /** Folders given up on, with why (the scan will embed them and say what is wrong). */
  readonly skipped: { readonly source: string; readonly reason: unknown }[] = [];

  constructor(
    private readonly runtime: Runtime,
    private readonly files: FileStore,
    private readonly encoder: EncoderSource,
    private readonly sources: readonly PixelSource[],
    private readonly preprocessing: Preprocessing,
    private readonly onProgress?: (p: PrefetchProgress) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.last = now();
  }

  /** Folders not yet embedded. */
  get pending(): number {
    return this.sources.length - this.finished - this.skipped.length;
  }

  /**
   * At an epoch end: embeds chunks for up to PREFETCH_SHARE of the time since the last call (the
   * epoch just trained), at least one while any is pending. Never throws.
   */
  async betweenEpochs(signal?: AbortSignal): Promise<void> {
    const start = this.now();
    const budget = PREFETCH_SHARE * (start - this.last);
    let ran = false;
    while (this.pending > 0 && !signal?.aborted && (!ran || this.now() - start < budget)) {
      ran = true;
      const source = this.sources[this.next]!;
      try {
        this.job ??= await EmbeddingJob.start(this.runtime, this.files, this.encoder, source, this.preprocessing);
        await this.job.step();
        const p = this.job.progress;
        if (this.job.result) this.finished++;
        this.onProgress?.({ source: source.id, done: p.done, total: p.total, finished: this.finished, folders: this.sources.length });
        if (this.job.result) await this.advance();
      } catch (reason) {
        this.skipped.push({ source: source.id, reason });
        await this.advance();
      }
    }
    this.last = this.now();
  }

  private async advance(): Promise<void> {
    const job = this.job;
    this.job = null;
    this.next++;
    await job?.dispose().catch(() => undefined);
  }

  /** Releases the encoder session of a folder left half done (its chunks are dropped). */
  async dispose(): Promise<void> {
    const job = this.job;
    this.job = null;
    await job?.dispose();
  }
}
