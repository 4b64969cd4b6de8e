// Owns the one live model backend of the page and keeps the store's status in sync with it.
import { preferenceFromQuery, type EpPreference } from '../../core/runtime/ep-choice';
import { errorText } from '../../core/runtime/session';
import { useAppStore } from '../store';
import { startBackend, type Backend } from './model-client';

let current: Backend | null = null;
let starting: Promise<Backend> | null = null;
let generation = 0;

/** `?ep=` in the URL wins over the saved setting, so a link can force a backend. */
export function effectivePreference(): EpPreference {
  return preferenceFromQuery(window.location.search) ?? useAppStore.getState().epPreference;
}

export function restartBackend(): Promise<Backend> {
  const preference = effectivePreference();
  const mine = ++generation;
  current?.terminate();
  current = null;
  const { setBackend } = useAppStore.getState();
  setBackend({ state: 'starting', preference });
  starting = startBackend(preference, (event) => {
    if (event.kind === 'device-lost' && mine === generation) {
      const status = useAppStore.getState().backend;
      if (status.state === 'ready') setBackend({ ...status, notice: `The GPU was lost: ${event.message}` });
    }
  }).then(
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
  return starting;
}

/** The running backend, starting one if needed. */
export function getBackend(): Promise<Backend> {
  if (current) return Promise.resolve(current);
  return starting ?? restartBackend();
}
