// Registers the offline service worker (production builds only: the dev server serves sources that
// change on every edit) and tracks whether a new version is waiting. A waiting version takes over
// only when the user asks (UpdateBanner), then the page reloads once onto it.
import { create } from 'zustand';

interface UpdateState {
  /** A new version is installed and waits for the user to switch to it. */
  waiting: ServiceWorker | null;
}

export const useUpdateStore = create<UpdateState>(() => ({ waiting: null }));

export const SW_URL = '/sw.js';

export async function registerServiceWorker(): Promise<void> {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const registration = await navigator.serviceWorker.register(SW_URL, { type: 'module', scope: '/' });
  const track = (worker: ServiceWorker | null) => {
    if (!worker) return;
    const check = () => {
      // Only an update waits: on a first visit there is no controller and the worker just activates.
      if (worker.state === 'installed' && navigator.serviceWorker.controller) useUpdateStore.setState({ waiting: worker });
    };
    check();
    worker.addEventListener('statechange', check);
  };
  track(registration.waiting);
  registration.addEventListener('updatefound', () => track(registration.installing));
}

/** Lets the waiting version take over, then reloads onto it. */
export function applyUpdate(): void {
  const { waiting } = useUpdateStore.getState();
  if (!waiting) return;
  navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
  waiting.postMessage({ type: 'skip-waiting' });
}
