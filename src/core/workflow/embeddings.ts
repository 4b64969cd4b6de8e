// Encoder embeddings of a set of images, computed once per (encoder, image set) and cached: the
// encoder is frozen, so training epochs and rescans never run it again.
import { EncoderRunner, type EncoderSource } from '../dede/encoder-runner';
import { areaResizeRgbBatch } from '../images/area-resize';
import { normalizeRgbBatch } from '../images/pixels';
import type { Preprocessing } from '../images/preprocess';
import { readoutKey, type EmbeddingReadout } from '../onnx/readout';
import type { Runtime } from '../runtime/session';
import { throwIfCancelled } from '../runtime/cancel';
import { yieldToEventLoop } from '../runtime/yield';
import type { FileStore } from './files';
import { saving } from './storage-full';

/** Images as interleaved RGB uint8 at one size, read in ranges (e.g. a stored dataset). */
export interface PixelSource {
  /** Stable identity of the content (e.g. dataset id): part of cache keys. */
  readonly id: string;
  readonly count: number;
  readonly width: number;
  readonly height: number;
  readRgb(from: number, count: number): Promise<Uint8Array>;
}

export interface Embeddings {
  readonly dim: number;
  readonly count: number;
  /** [count, dim] */
  readonly data: Float32Array;
}

export interface EmbedProgress {
  readonly done: number;
  readonly total: number;
  readonly cached: boolean;
  /** Measured over this run (null before the first chunk, or when read from the cache). */
  readonly imagesPerSecond: number | null;
  readonly etaSeconds: number | null;
}

const HEADER_FLOATS = 2; // [count, dim] stored ahead of the data

/** Keyed by the encoder, its readout (another output or pooling is another embedding) and the images. */
export function embeddingsPath(encoderSha256: string, readout: EmbeddingReadout, source: Pick<PixelSource, 'id' | 'count'>): string {
  return `embeddings/${encoderSha256}/${readoutKey(readout)}/${source.id}-${source.count}.f32`;
}

/** Normalised CHW floats for `count` images from `from`. */
export async function normalizedRange(source: PixelSource, from: number, count: number, p: Preprocessing): Promise<Float32Array> {
  if (p.width !== source.width || p.height !== source.height) {
    throw new Error(`The images are stored at ${source.width}×${source.height} but ${p.width}×${p.height} is needed; add the folder again at that working resolution.`);
  }
  return normalizeRgbBatch(await source.readRgb(from, count), count, p);
}

/** normalizedRange for the images at `slots` (the encoder's input; the content score's flip view, §5.3.1). */
export async function encoderInputs(source: PixelSource, slots: readonly number[], p: Preprocessing): Promise<Float32Array> {
  if (p.width !== source.width || p.height !== source.height) return normalizedRange(source, 0, 0, p); // throws the message above
  const px = 3 * p.height * p.width;
  const out = new Float32Array(slots.length * px);
  await eachRun(source, slots, DECODER_READ_RUN, (k, n, rgb) => out.set(normalizeRgbBatch(rgb, n, p), k * px));
  return out;
}

/** Calls `visit(k, count, rgb)` for the images at `slots` (in that order), consecutive slots read as one range of at most `most` images. */
async function eachRun(source: PixelSource, slots: readonly number[], most: number, visit: (k: number, count: number, rgb: Uint8Array) => void): Promise<void> {
  for (let k = 0; k < slots.length; ) {
    let run = 1;
    while (run < most && k + run < slots.length && slots[k + run] === slots[k]! + run) run++;
    visit(k, run, await source.readRgb(slots[k]!, run));
    k += run;
  }
}

/** The encoder's normalisation at another picture size (the decoder's). */
export function atSize(p: Preprocessing, size: number): Preprocessing {
  return { ...p, height: size, width: size };
}

/** Stored images read per range when making decoder inputs: bounds the full-size pixels held at once. */
const DECODER_READ_RUN = 64;

/**
 * Normalised CHW floats for the images at `slots`, as the decoder sees them: the stored pixels (the
 * encoder's processed input) area-averaged to size×size, then normalised with the encoder's
 * statistics. The decoder learns at a small size whatever the encoder's.
 */
export async function decoderInputs(source: PixelSource, slots: readonly number[], p: Preprocessing, size: number): Promise<Float32Array> {
  const small = atSize(p, size);
  const px = 3 * size * size;
  const out = new Float32Array(slots.length * px);
  await eachRun(source, slots, DECODER_READ_RUN, (k, n, rgb) => {
    const resized = areaResizeRgbBatch(rgb, n, source.width, source.height, size, size);
    normalizeRgbBatch(resized, n, small, out.subarray(k * px, (k + n) * px));
  });
  return out;
}

export async function ensureEmbeddings(
  runtime: Runtime,
  files: FileStore,
  encoder: EncoderSource,
  source: PixelSource,
  preprocessing: Preprocessing,
  hooks: { signal?: AbortSignal; onProgress?: (p: EmbedProgress) => void; chunk?: number } = {},
): Promise<Embeddings> {
  const job = await EmbeddingJob.start(runtime, files, encoder, source, preprocessing, hooks.chunk);
  try {
    if (job.result) hooks.onProgress?.(job.progress);
    while (!job.result) {
      await yieldToEventLoop();
      throwIfCancelled(hooks.signal);
      await job.step(hooks.signal);
      hooks.onProgress?.(job.progress);
    }
    return job.result;
  } finally {
    await job.dispose();
  }
}

/**
 * The embeddings of one image set, computed a chunk at a time and cached when complete:
 * ensureEmbeddings runs one to the end; a training run advances one between epochs, so the suspect
 * folders are embedded while the decoder trains (docs/ARCHITECTURE.md §8.6). The encoder session is
 * held from the first chunk until the last (or dispose).
 */
export class EmbeddingJob {
  private runner: EncoderRunner | null = null;
  private out: Float32Array | null = null;
  private dim = 0;
  private from = 0;
  private started = 0;
  private done: Embeddings | null = null;

  private constructor(
    private readonly runtime: Runtime,
    private readonly files: FileStore,
    private readonly encoder: EncoderSource,
    private readonly source: PixelSource,
    private readonly preprocessing: Preprocessing,
    private readonly chunk: number,
    private readonly path: string,
    private readonly fromCache: boolean,
  ) {}

  /** A job on `source`; already finished when its embeddings are in the cache. */
  static async start(runtime: Runtime, files: FileStore, encoder: EncoderSource, source: PixelSource, preprocessing: Preprocessing, chunk = 64): Promise<EmbeddingJob> {
    const path = embeddingsPath(encoder.sha256, encoder.spec.readout, source);
    const cached = await files.read(path);
    if (cached && cached.byteLength >= HEADER_FLOATS * 4) {
      const floats = new Float32Array(cached.buffer, cached.byteOffset, cached.byteLength / 4);
      const [count, dim] = [floats[0]!, floats[1]!];
      if (count === source.count && floats.length === HEADER_FLOATS + count * dim) {
        const job = new EmbeddingJob(runtime, files, encoder, source, preprocessing, chunk, path, true);
        job.done = { count, dim, data: floats.slice(HEADER_FLOATS) };
        job.from = count;
        return job;
      }
    }
    return new EmbeddingJob(runtime, files, encoder, source, preprocessing, chunk, path, false);
  }

  /** The embeddings once every image is embedded (and the cache written), else null. */
  get result(): Embeddings | null {
    return this.done;
  }

  get progress(): EmbedProgress {
    const total = this.source.count;
    if (this.fromCache) return { done: total, total, cached: true, imagesPerSecond: null, etaSeconds: null };
    const rate = this.from > 0 ? this.from / Math.max(1e-3, (performance.now() - this.started) / 1000) : null;
    return { done: this.from, total, cached: false, imagesPerSecond: rate, etaSeconds: rate ? (total - this.from) / rate : null };
  }

  /** Embeds the next chunk; after the last, writes the cache and releases the encoder. */
  async step(signal?: AbortSignal): Promise<void> {
    if (this.done) return;
    const count = this.source.count;
    if (this.from < count) {
      if (!this.runner) {
        this.runner = await EncoderRunner.open(this.runtime, this.encoder);
        this.started = performance.now();
      }
      const n = Math.min(this.chunk, count - this.from);
      const r = await this.runner.embed(await normalizedRange(this.source, this.from, n, this.preprocessing), n, signal);
      this.dim = r.dim;
      this.out ??= new Float32Array(HEADER_FLOATS + count * this.dim);
      this.out.set(r.data, HEADER_FLOATS + this.from * this.dim);
      this.from += n;
      if (this.from < count) return;
    }
    await this.dispose();
    const all = this.out ?? new Float32Array(HEADER_FLOATS);
    all[0] = count;
    all[1] = this.dim;
    await saving(`the embeddings of ${count} images`, () => this.files.write(this.path, new Uint8Array(all.buffer)));
    this.done = { count, dim: this.dim, data: all.slice(HEADER_FLOATS) };
    this.out = null;
  }

  /** Releases the encoder session (a job left unfinished keeps nothing: it starts over next time). */
  async dispose(): Promise<void> {
    const runner = this.runner;
    this.runner = null;
    await runner?.dispose();
  }
}
