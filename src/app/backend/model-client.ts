// Starts the model worker with the best execution provider, falling back to WASM in a *fresh*
// worker when WebGPU fails to start (a failed WebGPU init poisons its JS context).
import * as Comlink from 'comlink';
import { chooseExecutionProvider, type EpChoice, type EpPreference } from '../../core/runtime/ep-choice';
import { errorText } from '../../core/runtime/session';
import {
  CANCELLED_MESSAGE,
  type BackendEvent,
  type BackendInfo,
  type Feeds,
  type Fetches,
  type JobProgress,
  type ModelWorkerApi,
} from '../../../workers/model-api';

export interface Backend {
  readonly api: Comlink.Remote<ModelWorkerApi>;
  readonly info: BackendInfo;
  /** Set when the preferred EP failed and this backend is the WASM fallback. */
  readonly fallbackReason: string | null;
  terminate(): void;
}

interface SpawnedWorker {
  readonly worker: Worker;
  readonly api: Comlink.Remote<ModelWorkerApi>;
}

function spawn(): SpawnedWorker {
  const worker = new Worker(new URL('../../../workers/model.worker.ts', import.meta.url), {
    type: 'module',
    name: 'dede-model',
  });
  return { worker, api: Comlink.wrap<ModelWorkerApi>(worker) };
}

async function initIn(spawned: SpawnedWorker, choice: EpChoice, onEvent: (e: BackendEvent) => void): Promise<BackendInfo> {
  return spawned.api.init(choice, Comlink.proxy(onEvent));
}

export async function startBackend(preference: EpPreference, onEvent: (e: BackendEvent) => void): Promise<Backend> {
  const first = spawn();
  let choice: EpChoice;
  try {
    choice = chooseExecutionProvider(preference, await first.api.probe());
  } catch (err) {
    first.worker.terminate();
    throw new Error(`The model worker did not start: ${errorText(err)}`);
  }
  try {
    const info = await initIn(first, choice, onEvent);
    return backendOf(first, info, null);
  } catch (err) {
    first.worker.terminate();
    if (choice.ep !== 'webgpu') throw err;
    const reason = errorText(err);
    const second = spawn();
    try {
      const info = await initIn(second, { ep: 'wasm', wasmThreads: choice.wasmThreads, reason: "WebGPU failed to start, so WASM is used instead (details under Fallback)." }, onEvent);
      return backendOf(second, info, reason);
    } catch (wasmErr) {
      second.worker.terminate();
      throw new Error(`Neither backend started. WebGPU: ${reason} WASM: ${errorText(wasmErr)}`);
    }
  }
}

function backendOf(spawned: SpawnedWorker, info: BackendInfo, fallbackReason: string | null): Backend {
  return {
    api: spawned.api,
    info,
    fallbackReason,
    terminate() {
      spawned.api[Comlink.releaseProxy]();
      spawned.worker.terminate();
    },
  };
}

export interface RunBatchesOptions {
  readonly onProgress?: (progress: JobProgress) => void;
  /** Aborting cancels the job in the worker between two runs; the promise then rejects. */
  readonly signal?: AbortSignal;
}

let nextJob = 1;

/** Runs a loaded model over many feed sets. The feeds' buffers are transferred (detached here). */
export async function runBatches(
  backend: Backend,
  modelId: string,
  batches: readonly Feeds[],
  options: RunBatchesOptions = {},
): Promise<Fetches[]> {
  const jobId = `job${nextJob++}`;
  const { signal, onProgress } = options;
  const cancel = () => void backend.api.cancel(jobId);
  if (signal?.aborted) throw new Error(CANCELLED_MESSAGE);
  signal?.addEventListener('abort', cancel, { once: true });
  const buffers = batches.flatMap((feeds) => Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer));
  try {
    return await backend.api.runBatches(
      jobId,
      modelId,
      Comlink.transfer(batches, [...new Set(buffers)]),
      onProgress ? Comlink.proxy(onProgress) : undefined,
    );
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}
