// Starts the model worker with the best execution provider, falling back to WASM in a *fresh*
// worker when WebGPU fails to start (a failed WebGPU init poisons its JS context).
import * as Comlink from 'comlink';
import { chooseExecutionProvider, type EpChoice, type EpPreference } from '../../core/runtime/ep-choice';
import { errorText } from '../../core/runtime/session';
import type { BackendEvent, BackendInfo, ModelWorkerApi } from '../../../workers/model-api';

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
