// Runs the frozen SSL encoder over normalised images in batches. Many exports fix the batch size
// in the graph; then batches are padded to it (and the padding's embeddings dropped). The readout
// says which output is the embedding and how it is pooled to [N, D]; float16 models get their
// pixels as float16 and their output converted back to float32.
import type { EmbeddingReadout } from '../onnx/readout';
import type { OrtSession } from '../runtime/ort-types';
import { float32ToFloat16 } from '../runtime/float16';
import { throwIfCancelled } from '../runtime/cancel';
import { leaseSession, readFloats, type ExternalDataFile, type Runtime, type SessionLease } from '../runtime/session';
import { poolEmbedding } from './pool-embedding';

/** The encoder's model file and the external data files it names. */
export interface EncoderFiles {
  readonly bytes: Uint8Array;
  readonly externalData?: readonly ExternalDataFile[];
}

/** How to call the encoder. */
export interface EncoderCall {
  readonly inputName: string;
  /** Which output is the embedding and how it is pooled (with why, when known: files record it). */
  readonly readout: EmbeddingReadout & { readonly reason?: string };
  readonly height: number;
  readonly width: number;
  /** The graph's fixed batch size, or null when the batch dimension is dynamic. */
  readonly fixedBatch: number | null;
}

export interface EncoderSpec extends EncoderFiles, EncoderCall {}

/**
 * An encoder as the workflow jobs take it: its hash (the identity its session is kept by in the
 * model worker, docs/ARCHITECTURE.md §3.3), how to call it, and its files, read only when a session
 * has to be built (jobs on cached embeddings never need them).
 */
export interface EncoderSource {
  readonly sha256: string;
  readonly spec: EncoderCall;
  files(): Promise<EncoderFiles>;
}

/** A source for files already in memory (CLI, tests, benches). */
export function encoderSource(spec: EncoderSpec, sha256: string): EncoderSource {
  return { sha256, spec, files: async () => spec };
}

export class EncoderRunner {
  private constructor(
    private readonly runtime: Runtime,
    private readonly lease: SessionLease,
    private readonly spec: EncoderCall,
    private readonly inputType: 'float32' | 'float16',
    readonly batchSize: number,
  ) {}

  /** A runner on a fresh session, released by dispose(). */
  static create(runtime: Runtime, spec: EncoderSpec, preferredBatch = 32): Promise<EncoderRunner> {
    return EncoderRunner.start(runtime, spec, null, async () => spec, preferredBatch);
  }

  /** A runner on the runtime's kept session for this encoder, when it keeps sessions (§3.3). */
  static open(runtime: Runtime, source: EncoderSource, preferredBatch = 32): Promise<EncoderRunner> {
    return EncoderRunner.start(runtime, source.spec, source.sha256, () => source.files(), preferredBatch);
  }

  private static async start(runtime: Runtime, spec: EncoderCall, identity: string | null, files: () => Promise<EncoderFiles>, preferredBatch: number): Promise<EncoderRunner> {
    const lease = await leaseSession(runtime, 'encoder', identity, async () => {
      const { bytes, externalData } = await files();
      return { model: bytes, request: externalData ? { externalData } : {} };
    });
    const { session } = lease;
    if (!session.outputNames.includes(spec.readout.output)) {
      await lease.release();
      throw new Error(`The encoder has no output named ${spec.readout.output} (it has ${session.outputNames.join(', ')}); choose its embedding output again.`);
    }
    return new EncoderRunner(runtime, lease, spec, inputTypeOf(session, spec.inputName), spec.fixedBatch ?? preferredBatch);
  }

  /** Embeddings [n, D] for `n` images [n, 3, H, W]; D is read from the first result. */
  async embed(images: Float32Array, n: number, signal?: AbortSignal): Promise<{ dim: number; data: Float32Array }> {
    const { height: H, width: W, readout } = this.spec;
    const px = 3 * H * W;
    if (images.length !== n * px) throw new Error(`Expected ${n} images of 3×${H}×${W} (${n * px} values), got ${images.length}.`);
    let out: Float32Array | null = null;
    let dim = 0;
    for (let start = 0; start < n; start += this.batchSize) {
      throwIfCancelled(signal);
      const count = Math.min(this.batchSize, n - start);
      const rows = this.spec.fixedBatch ?? count;
      const input = new Float32Array(rows * px);
      input.set(images.subarray(start * px, (start + count) * px));
      const dims = [rows, 3, H, W];
      const tensor =
        this.inputType === 'float16' ? new this.runtime.ort.Tensor('float16', float32ToFloat16(input), dims) : new this.runtime.ort.Tensor('float32', input, dims);
      const results = await this.lease.session.run({ [this.spec.inputName]: tensor }, [readout.output]);
      try {
        const result = results[readout.output];
        if (!result) throw new Error(`The encoder returned no output named ${readout.output}.`);
        if (result.type !== 'float32' && result.type !== 'float16') throw new Error(`Encoder output ${readout.output} holds ${result.type}, not float32 or float16 embeddings.`);
        if (result.dims[0] !== rows) throw new Error(`Encoder output ${readout.output} is shaped [${result.dims.join(', ')}]: its first dimension should be the batch (${rows}).`);
        const pooled = poolEmbedding(await readFloats(result), result.dims, readout.pooling, readout.output);
        dim = pooled.dim;
        out ??= new Float32Array(n * dim);
        out.set(pooled.data.subarray(0, count * dim), start * dim);
      } finally {
        for (const t of Object.values(results)) t.dispose();
      }
    }
    return { dim, data: out ?? new Float32Array(0) };
  }

  async dispose(): Promise<void> {
    await this.lease.release();
  }
}

/** The input's element type as the loaded session declares it (float32 when it says nothing usable). */
function inputTypeOf(session: OrtSession, name: string): 'float32' | 'float16' {
  const meta = (session.inputMetadata as readonly { name: string; isTensor: boolean; type?: unknown }[] | undefined)?.find((m) => m.name === name);
  return meta?.isTensor && meta.type === 'float16' ? 'float16' : 'float32';
}
