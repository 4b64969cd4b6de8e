// Owns the one live model backend of the page and keeps the store's status in sync with it. Faults
// land here too: a lost GPU switches to WASM in a fresh worker, a crashed worker is restarted once.
import { preferenceFromQuery, type EpPreference } from '../../core/runtime/ep-choice';
import { isDeviceLost } from '../../core/runtime/device-loss';
import { errorText } from '../../core/runtime/error-text';
import type { SimulatedFault } from '../../../workers/model-api';
import { useAppStore } from '../store';
import { useFaultStore } from './fault-store';
import { isInterruptedByBackend, startBackend, type Backend } from './model-client';
import { respondToFault, retriesOnNewBackend, type BackendSignal } from './fault-policy';

let current: Backend | null = null;
let starting: Promise<Backend> | null = null;
let generation = 0;
/** Set once the GPU device was lost: this page stays on WASM from then on. */
let gpuLostReason: string | null = null;
let crashes = 0;
/** The notice of the last fault, which a resumed job completes with where it continued. */
let lastFault: { readonly id: string; readonly text: string } | null = null;
/** After a second crash no backend is started again until the page reloads. */
let fatal: Error | null = null;

/** `?ep=` in the URL wins over the saved setting, so a link can force a backend. */
export function effectivePreference(): EpPreference {
  return preferenceFromQuery(window.location.search) ?? useAppStore.getState().epPreference;
}

export function restartBackend(): Promise<Backend> {
  if (fatal) return Promise.reject(fatal);
  const preference = effectivePreference();
  const mine = ++generation;
  current?.terminate();
  current = null;
  const { setBackend } = useAppStore.getState();
  setBackend({ state: 'starting', preference });
  const options = gpuLostReason !== null ? { wasmBecause: gpuLostReason } : {};
  starting = startBackend(preference, (signal) => {
    if (mine === generation) onSignal(signal);
  }, options).then(
    (backend) => {
      if (mine !== generation) {
        backend.terminate();
        throw new Error('Superseded by a newer backend start.');
      }
      current = backend;
      setBackend({ state: 'ready', info: backend.info, fallbackReason: backend.fallbackReason, notice: null });
      return backend;
    },
    (err: unknown) => {
      if (mine === generation) setBackend({ state: 'failed', error: errorText(err) });
      throw err;
    },
  );
  starting.catch(() => undefined);
  return starting;
}

function onSignal(signal: BackendSignal): void {
  const { post } = useFaultStore.getState();
  const response = respondToFault(signal, crashes);
  if (signal.kind === 'worker-crashed') crashes++;
  if (response.kind === 'wasm') {
    gpuLostReason = response.gpuLostReason;
    lastFault = { id: 'device-lost', text: response.notice };
    post({ ...lastFault, level: 'warn' });
    void restartBackend();
    return;
  }
  if (response.kind === 'restart') {
    lastFault = { id: 'worker-crash', text: response.notice };
    post({ ...lastFault, level: 'warn' });
    void restartBackend();
    return;
  }
  // A worker that keeps dying would loop: stop, keep what is saved, and let the user reload.
  fatal = new Error(response.message);
  generation++;
  current = null;
  starting = null;
  useAppStore.getState().setBackend({ state: 'failed', error: 'the model worker crashed twice; reload the page.' });
  post({ id: 'worker-crash', level: 'error', text: fatal.message, reload: true });
}

/** The running backend, starting one if needed. */
export function getBackend(): Promise<Backend> {
  if (fatal) return Promise.reject(fatal);
  if (current) return Promise.resolve(current);
  return starting ?? restartBackend();
}

/**
 * Runs `job` on the live backend. When that backend goes away under it (GPU lost, worker crashed or
 * replaced), the job runs once more on the replacement with `retry` set, so it can resume from
 * what it saved instead of failing. A second failure is the job's error.
 */
export async function runOnBackend<T>(job: (backend: Backend, retry: boolean) => Promise<T>): Promise<T> {
  const backend = await getBackend();
  try {
    return await job(backend, false);
  } catch (err) {
    if (!retriesOnNewBackend(err)) throw err;
    // The run's error can overtake the worker's device-lost event (they travel on different ports).
    if (current === backend && isDeviceLost(err)) onSignal({ kind: 'device-lost', message: errorText(err).replace(/^GPU device lost: /, '') });
    return job(await getBackend(), true);
  }
}

/** Completes the last fault's notice with where the interrupted job resumed. */
export function noteResumed(detail: string): void {
  if (lastFault) useFaultStore.getState().post({ ...lastFault, level: 'warn', text: `${lastFault.text} ${detail}` });
}

/** Test-only (window.dedeDebug): makes the live worker lose its GPU device or crash. */
export async function simulateFault(fault: SimulatedFault): Promise<void> {
  const backend = await getBackend();
  // The fault's own signal may replace the worker before this call's answer arrives.
  await backend.api.simulateFault(fault).catch((err: unknown) => {
    if (!isInterruptedByBackend(err)) throw err;
  });
}
