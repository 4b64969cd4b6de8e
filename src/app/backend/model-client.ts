// Starts the model worker with the best execution provider, falling back to WASM in a *fresh*
// worker when WebGPU fails to start or its device is lost (a failed WebGPU device poisons its JS
// context). A worker that dies (error event, or no answer to pings) rejects its pending calls.
import * as Comlink from 'comlink';
import { chooseExecutionProvider, wasmThreadCount, type EpChoice, type EpPreference } from '../../core/runtime/ep-choice';
import { errorText } from '../../core/runtime/error-text';
import { throwIfCancelled } from '../../core/runtime/cancel';
import { BACKEND_REPLACED_ERROR, Heartbeat, WORKER_CRASHED_ERROR, type BackendSignal } from './fault-policy';
import {
  type BackendInfo,
  type Feeds,
  type Fetches,
  type JobProgress,
  type ModelWorkerApi,
} from '../../../workers/model-api';

export interface Backend {
  readonly api: Comlink.Remote<ModelWorkerApi>;
  readonly info: BackendInfo;
  /** Set when the preferred EP failed (or the GPU was lost) and this backend is the WASM fallback. */
  readonly fallbackReason: string | null;
  terminate(): void;
}

export { isInterruptedByBackend, type BackendSignal } from './fault-policy';

function namedError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** How often the client pings the worker, and how long a silent worker is given before it counts as dead. */
export const HEARTBEAT_EVERY_MS = 5_000;
// Generous: one long WASM run (a large encoder batch) blocks the worker's event loop.
export const HEARTBEAT_TIMEOUT_MS = 120_000;

interface SpawnedWorker {
  readonly worker: Worker;
  /** Calls race the worker's death: a dead worker's calls reject instead of hanging. */
  readonly api: Comlink.Remote<ModelWorkerApi>;
  /** Stops the worker; pending calls reject with `error`. */
  stop(error: Error): void;
}

function spawn(onSignal: (signal: BackendSignal) => void): SpawnedWorker {
  const worker = new Worker(new URL('../../../workers/model.worker.ts', import.meta.url), {
    type: 'module',
    name: 'dede-model',
  });
  const remote = Comlink.wrap<ModelWorkerApi>(worker);
  let fail: (err: Error) => void = () => undefined;
  const dead = new Promise<never>((_, reject) => (fail = reject));
  dead.catch(() => undefined);
  let stopped = false;
  const beat = new Heartbeat(performance.now(), HEARTBEAT_TIMEOUT_MS);
  const stop = (error: Error) => {
    if (stopped) return;
    stopped = true;
    clearInterval(heartbeat);
    remote[Comlink.releaseProxy]();
    worker.terminate();
    fail(error);
  };
  const crashed = (why: string) => {
    if (stopped) return;
    const message = `The model worker stopped unexpectedly (${why})`;
    onSignal({ kind: 'worker-crashed', message });
    stop(namedError(WORKER_CRASHED_ERROR, `${message}.`));
  };
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    crashed(event.message || 'an uncaught error in the worker');
  });
  worker.addEventListener('messageerror', () => crashed('a message could not be read'));
  const heartbeat = setInterval(() => {
    if (beat.tick(performance.now()) === 'dead') {
      crashed(`no answer for ${Math.round(beat.silentFor(performance.now()))} s`);
      return;
    }
    void remote.ping().then(() => beat.answered(performance.now()), () => undefined);
  }, HEARTBEAT_EVERY_MS);
  const api = new Proxy(remote, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || prop === 'then' || typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) => Promise.race([method(...args), dead]);
    },
  });
  return { worker, api, stop };
}

async function initIn(spawned: SpawnedWorker, choice: EpChoice, onSignal: (signal: BackendSignal) => void): Promise<BackendInfo> {
  return spawned.api.init(choice, Comlink.proxy(onSignal));
}

export interface StartOptions {
  /** Why WASM is forced (e.g. the GPU was lost): skips WebGPU and is shown as the fallback reason. */
  readonly wasmBecause?: string;
}

export async function startBackend(preference: EpPreference, onSignal: (signal: BackendSignal) => void, options: StartOptions = {}): Promise<Backend> {
  if (options.wasmBecause !== undefined) {
    // No probe: asking for a GPU adapter can wait behind the lost device's unfinished work.
    const threads = wasmThreadCount({ crossOriginIsolated: self.crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency });
    return startWasm(threads, options.wasmBecause, 'The GPU device was lost, so WASM is used instead (details under Fallback).', onSignal);
  }
  const first = spawn(onSignal);
  let choice: EpChoice;
  try {
    choice = chooseExecutionProvider(preference, await first.api.probe());
  } catch (err) {
    first.stop(new Error('The model worker did not start.'));
    throw new Error(`The model worker did not start: ${errorText(err)}`);
  }
  try {
    const info = await initIn(first, choice, onSignal);
    return backendOf(first, info, null);
  } catch (err) {
    first.stop(new Error('The model worker failed to start.'));
    if (choice.ep !== 'webgpu') throw err;
    return startWasm(choice.wasmThreads, errorText(err), 'WebGPU failed to start, so WASM is used instead (details under Fallback).', onSignal);
  }
}

/** WASM in a fresh worker: a failed or lost WebGPU device stays broken in its JS context (docs/ARCHITECTURE.md §3.4). */
async function startWasm(wasmThreads: number, reason: string, summary: string, onSignal: (signal: BackendSignal) => void): Promise<Backend> {
  const second = spawn(onSignal);
  try {
    const info = await initIn(second, { ep: 'wasm', wasmThreads, reason: summary }, onSignal);
    return backendOf(second, info, reason);
  } catch (wasmErr) {
    second.stop(new Error('The WASM worker failed to start.'));
    throw new Error(`Neither backend started. WebGPU: ${reason} WASM: ${errorText(wasmErr)}`);
  }
}

function backendOf(spawned: SpawnedWorker, info: BackendInfo, fallbackReason: string | null): Backend {
  return {
    api: spawned.api,
    info,
    fallbackReason,
    terminate() {
      spawned.stop(namedError(BACKEND_REPLACED_ERROR, 'The model backend was replaced while this ran.'));
    },
  };
}

export interface RunBatchesOptions {
  readonly onProgress?: (progress: JobProgress) => void;
  /** Aborting cancels the job in the worker between two runs; the promise then rejects. */
  readonly signal?: AbortSignal;
}

let nextJob = 1;

/**
 * Runs one cancellable worker job: a fresh job id, with `signal` mapped to the worker's
 * cancel(jobId) while the call runs (as squoosh's worker bridge maps AbortSignals). A signal that
 * has already fired rejects at once; a cancelled job rejects with a CancelledError (isCancelled).
 */
export async function workerJob<T>(backend: Backend, signal: AbortSignal | undefined, call: (jobId: string) => Promise<T>): Promise<T> {
  throwIfCancelled(signal);
  const jobId = `job${nextJob++}`;
  // A worker that died meanwhile has nothing to cancel; its calls reject on their own.
  const cancel = () => void backend.api.cancel(jobId).catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await call(jobId);
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}

/** Runs a loaded model over many feed sets. The feeds' buffers are transferred (detached here). */
export function runBatches(
  backend: Backend,
  modelId: string,
  batches: readonly Feeds[],
  options: RunBatchesOptions = {},
): Promise<Fetches[]> {
  const { signal, onProgress } = options;
  return workerJob(backend, signal, (jobId) => {
    const buffers = batches.flatMap((feeds) => Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer));
    return backend.api.runBatches(jobId, modelId, Comlink.transfer(batches, [...new Set(buffers)]), onProgress ? Comlink.proxy(onProgress) : undefined);
  });
}
