// Runs train-step graphs through the runtime seam. The state (parameters and Adam moments) is fed
// back from each step's outputs into the next step's inputs; on WebGPU it never leaves the GPU
// (outputs are 'gpu-buffer' tensors, the previous step's are disposed), on WASM/CPU the same code
// passes plain tensors. The loss is only downloaded every `readLossEvery` steps, since a download
// forces a GPU sync.
import type { Shape } from '../onnx/graph';
import { readFloat32, type HostTensor, type Runtime } from '../runtime/session';
import type { OrtSession, OrtTensor } from '../runtime/ort-types';
import { errorText } from '../runtime/error-text';

/** One tensor carried across steps: fed as `input`, updated value produced as `output`. */
export interface CarriedTensor {
  readonly input: string;
  readonly output: string;
  readonly shape: Shape;
}

export interface TrainGraph {
  /** Serialised ONNX train-step graph. */
  readonly bytes: Uint8Array;
  readonly carried: readonly CarriedTensor[];
  /** Names of the carried inputs that are model parameters (the rest are optimiser moments). */
  readonly paramInputs: readonly string[];
  /** Scalar float32 inputs the trainer sets every step. */
  readonly lrInput: string;
  readonly bias1Input: string;
  readonly bias2Input: string;
  readonly beta1: number;
  readonly beta2: number;
  readonly lossOutput: string;
  readonly gradNormOutput: string;
}

export type Batch = Readonly<Record<string, HostTensor>>;

export interface StepStats {
  readonly step: number;
  readonly loss: number;
  readonly gradNorm: number;
}

/** A bit-exact copy of the training state. */
export interface TrainCheckpoint {
  readonly step: number;
  readonly tensors: Readonly<Record<string, Float32Array>>;
}

export class TrainerError extends Error {
  override readonly name = 'TrainerError';
}

export class Trainer {
  private state = new Map<string, OrtTensor>();
  private stepCount = 0;
  private disposed = false;

  private constructor(
    private readonly runtime: Runtime,
    private readonly session: OrtSession,
    private readonly graph: TrainGraph,
  ) {}

  /** `initial` holds a value for every carried input (parameters and zeroed moments). */
  static async create(runtime: Runtime, graph: TrainGraph, initial: TrainCheckpoint): Promise<Trainer> {
    const session = await runtime.createSession(graph.bytes, {
      gpuOutputs: [...graph.carried.map((c) => c.output), graph.lossOutput, graph.gradNormOutput],
    });
    const trainer = new Trainer(runtime, session, graph);
    try {
      trainer.restore(initial);
    } catch (err) {
      await session.release();
      throw err;
    }
    return trainer;
  }

  get step(): number {
    return this.stepCount;
  }

  /** Number of state tensors held (constant across steps: a growing count would be a leak). */
  get liveStateTensors(): number {
    return this.state.size;
  }

  /**
   * One optimiser step. Returns the loss and gradient norm when `readStats` (a GPU sync on WebGPU),
   * otherwise null.
   */
  async trainStep(batch: Batch, lr: number, readStats: boolean): Promise<StepStats | null> {
    this.assertAlive();
    const { ort } = this.runtime;
    const g = this.graph;
    const t = this.stepCount + 1;
    const scalar = (v: number) => new ort.Tensor('float32', Float32Array.of(v), []);
    const feeds: Record<string, OrtTensor> = Object.fromEntries(this.state);
    feeds[g.lrInput] = scalar(lr);
    feeds[g.bias1Input] = scalar(1 - g.beta1 ** t);
    feeds[g.bias2Input] = scalar(1 - g.beta2 ** t);
    for (const [name, tensor] of Object.entries(batch)) {
      // A fresh tensor per run: ORT may detach the buffers it is given.
      feeds[name] = new ort.Tensor('float32', tensor.data, [...tensor.dims]);
    }
    let results: Record<string, OrtTensor>;
    try {
      results = await this.session.run(feeds);
    } catch (err) {
      throw new TrainerError(`Train step ${t} failed: ${errorText(err)}`);
    }
    const next = new Map<string, OrtTensor>();
    for (const c of g.carried) {
      const out = results[c.output];
      if (!out) throw new TrainerError(`Train step ${t}: output ${c.output} is missing`);
      next.set(c.input, out);
    }
    for (const old of this.state.values()) old.dispose();
    this.state = next;
    this.stepCount = t;

    const loss = results[g.lossOutput];
    const gradNorm = results[g.gradNormOutput];
    try {
      if (!readStats || !loss || !gradNorm) return null;
      const [l, n] = await Promise.all([readFloat32(loss), readFloat32(gradNorm)]);
      return { step: t, loss: l[0]!, gradNorm: n[0]! };
    } finally {
      loss?.dispose();
      gradNorm?.dispose();
    }
  }

  /** Downloads the whole state (parameters and moments) as host arrays. */
  async checkpoint(): Promise<TrainCheckpoint> {
    this.assertAlive();
    const tensors: Record<string, Float32Array> = {};
    for (const [name, tensor] of this.state) tensors[name] = (await readFloat32(tensor)).slice();
    return { step: this.stepCount, tensors };
  }

  /** Parameters only (what an exported inference model needs). */
  async parameters(): Promise<Record<string, Float32Array>> {
    const all = await this.checkpoint();
    return Object.fromEntries(this.graph.paramInputs.map((name) => [name, all.tensors[name]!]));
  }

  /** Replaces the state; every carried input must be present with the right size. */
  restore(checkpoint: TrainCheckpoint): void {
    this.assertAlive();
    const { ort } = this.runtime;
    const next = new Map<string, OrtTensor>();
    for (const c of this.graph.carried) {
      const data = checkpoint.tensors[c.input];
      const expected = c.shape.reduce((a, d) => a * d, 1);
      if (!data) throw new TrainerError(`Checkpoint lacks tensor ${c.input}.`);
      if (data.length !== expected) {
        throw new TrainerError(`Checkpoint tensor ${c.input} has ${data.length} values; the model needs ${expected} (shape [${c.shape.join(', ')}]).`);
      }
      next.set(c.input, new ort.Tensor('float32', data.slice(), [...c.shape]));
    }
    for (const old of this.state.values()) old.dispose();
    this.state = next;
    this.stepCount = checkpoint.step;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.state.values()) t.dispose();
    this.state.clear();
    await this.session.release();
  }

  private assertAlive(): void {
    if (this.disposed) throw new TrainerError('This trainer was disposed.');
  }
}
