// The one seam over ONNX Runtime: every session in the app and the CLI is created here.
import type { ExecutionProvider } from './ep-choice';
import { errorText } from './error-text';
import { float16ToFloat32 } from './float16';
import type { Ort, OrtSession, OrtSessionOptions, OrtTensor } from './ort-types';

export interface SessionRequest {
  /** Output names to keep on the GPU between runs (WebGPU only; ignored on WASM/CPU). */
  readonly gpuOutputs?: readonly string[];
  /** Verbose ORT logging, e.g. to see nodes that silently fall back to the CPU. */
  readonly verbose?: boolean;
  /** Files an ONNX model references for its weights (`.onnx_data`), by the path the model names. */
  readonly externalData?: readonly ExternalDataFile[];
}

export interface ExternalDataFile {
  readonly path: string;
  readonly data: Uint8Array;
}

/** A float32 tensor on the host: what crosses worker boundaries and feeds sessions. */
export interface HostTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** Where a session runs: the browser's providers, or onnxruntime-node's CPU and CUDA ones. */
export type RuntimeProvider = ExecutionProvider | 'cpu' | 'cuda';

export interface Runtime {
  readonly ort: Ort;
  readonly ep: RuntimeProvider;
  createSession(model: Uint8Array, request?: SessionRequest): Promise<OrtSession>;
  /** Where sessions are kept between jobs (the model worker, docs/ARCHITECTURE.md §3.3); absent: every job builds its own. */
  readonly keeper?: SessionKeeper;
}

/** A model to build a session from: read or built only when no kept session has its identity. */
export interface ModelToLoad {
  readonly model: Uint8Array;
  readonly request?: SessionRequest;
}

/** A session held by one job: `release` lets go of it (a kept session stays with its keeper). */
export interface SessionLease {
  readonly session: OrtSession;
  release(): Promise<void>;
}

/** Keeps one session per kind (encoder, scorer graph, …) for the identity last asked for (src/core/runtime/session-keep.ts). */
export interface SessionKeeper {
  lease(kind: string, identity: string, load: () => Promise<ModelToLoad> | ModelToLoad): Promise<SessionLease>;
}

/**
 * A session for one job: the runtime's kept one for (kind, identity) when it keeps sessions (the
 * model worker), otherwise a fresh one that `release` releases (CLI, tests, benches).
 */
export async function leaseSession(
  runtime: Runtime,
  kind: string,
  identity: string | null,
  load: () => Promise<ModelToLoad> | ModelToLoad,
): Promise<SessionLease> {
  if (runtime.keeper && identity !== null) return runtime.keeper.lease(kind, identity, load);
  const { model, request } = await load();
  const session = await runtime.createSession(model, request);
  return { session, release: () => session.release() };
}

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

/** Native-CPU tuning (onnxruntime-node): thread count, and no spin-waiting on shared cores. */
export interface CpuOptions {
  readonly intraOpThreads?: number;
  /** Spinning threads burn the cores other processes need; benches on shared machines turn it off. */
  readonly allowSpinning?: boolean;
}

export function createRuntime(ort: Ort, ep: RuntimeProvider, cpu: CpuOptions = {}): Runtime {
  return {
    ort,
    ep,
    async createSession(model, request = {}) {
      const options: OrtSessionOptions = {
        executionProviders: [ep],
        graphOptimizationLevel: 'all',
        logSeverityLevel: request.verbose ? 0 : 3,
      };
      if (cpu.intraOpThreads !== undefined) {
        options.intraOpNumThreads = cpu.intraOpThreads;
        options.interOpNumThreads = 1;
      }
      if (cpu.allowSpinning === false) options.extra = { session: { 'intra_op.allow_spinning': '0' } };
      if (request.externalData && request.externalData.length > 0) {
        options.externalData = request.externalData.map((f) => ({ path: f.path, data: f.data }));
      }
      const gpuOutputs = request.gpuOutputs ?? [];
      if (ep === 'webgpu' && gpuOutputs.length > 0) {
        options.preferredOutputLocation = Object.fromEntries(gpuOutputs.map((n) => [n, 'gpu-buffer' as const]));
      }
      try {
        return await ort.InferenceSession.create(model, options);
      } catch (err) {
        throw new ModelLoadError(`ONNX Runtime (${ep}) could not load the model: ${errorText(err)}`);
      }
    },
  };
}

/** Host copy of a float32 tensor, wherever it lives (downloads GPU buffers). */
export async function readFloat32(tensor: OrtTensor): Promise<Float32Array> {
  const data = tensor.location === 'cpu' ? tensor.data : await tensor.getData();
  if (!(data instanceof Float32Array)) throw new TypeError(`Expected a float32 tensor, got ${tensor.type}.`);
  return data;
}

/**
 * Host copy of a float32 or float16 tensor as float32. float16 data comes as a Uint16Array of bit
 * patterns, or as a Float16Array where the JS engine has one: either is read as raw bits.
 */
export async function readFloats(tensor: OrtTensor): Promise<Float32Array> {
  if (tensor.type !== 'float16') return readFloat32(tensor);
  const data = (tensor.location === 'cpu' ? tensor.data : await tensor.getData()) as ArrayBufferView;
  return float16ToFloat32(new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2));
}
