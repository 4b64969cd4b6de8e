// Runs the frozen SSL encoder over normalised images in batches. Many exports fix the batch size
// in the graph; then batches are padded to it (and the padding's embeddings dropped).
import type { OrtSession } from '../runtime/ort-types';
import { readFloat32, type ExternalDataFile, type Runtime } from '../runtime/session';

export interface EncoderSpec {
  readonly bytes: Uint8Array;
  readonly externalData?: readonly ExternalDataFile[];
  readonly inputName: string;
  readonly outputName: string;
  readonly height: number;
  readonly width: number;
  /** The graph's fixed batch size, or null when the batch dimension is dynamic. */
  readonly fixedBatch: number | null;
}

export class EncoderRunner {
  private constructor(
    private readonly runtime: Runtime,
    private readonly session: OrtSession,
    private readonly spec: EncoderSpec,
    readonly batchSize: number,
  ) {}

  static async create(runtime: Runtime, spec: EncoderSpec, preferredBatch = 32): Promise<EncoderRunner> {
    const session = await runtime.createSession(spec.bytes, spec.externalData ? { externalData: spec.externalData } : {});
    return new EncoderRunner(runtime, session, spec, spec.fixedBatch ?? preferredBatch);
  }

  /** Embeddings [n, D] for `n` images [n, 3, H, W]; D is read from the first result. */
  async embed(images: Float32Array, n: number, signal?: AbortSignal): Promise<{ dim: number; data: Float32Array }> {
    const { height: H, width: W } = this.spec;
    const px = 3 * H * W;
    if (images.length !== n * px) throw new Error(`Expected ${n} images of 3×${H}×${W} (${n * px} values), got ${images.length}.`);
    let out: Float32Array | null = null;
    let dim = 0;
    for (let start = 0; start < n; start += this.batchSize) {
      if (signal?.aborted) throw new Error('Cancelled by the user.');
      const count = Math.min(this.batchSize, n - start);
      const rows = this.spec.fixedBatch ?? count;
      const input = new Float32Array(rows * px);
      input.set(images.subarray(start * px, (start + count) * px));
      const feeds = { [this.spec.inputName]: new this.runtime.ort.Tensor('float32', input, [rows, 3, H, W]) };
      const results = await this.session.run(feeds);
      const tensor = results[this.spec.outputName];
      if (!tensor) throw new Error(`The encoder returned no output named ${this.spec.outputName}.`);
      if (tensor.dims.length !== 2 || tensor.dims[0] !== rows) {
        throw new Error(`Encoder output ${this.spec.outputName} is shaped [${tensor.dims.join(', ')}], expected [${rows}, D].`);
      }
      dim = tensor.dims[1]!;
      out ??= new Float32Array(n * dim);
      out.set((await readFloat32(tensor)).subarray(0, count * dim), start * dim);
      for (const t of Object.values(results)) t.dispose();
    }
    return { dim, data: out ?? new Float32Array(0) };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
