// Narrows the page's Content-Security-Policy to the saved hub endpoint before anything connects.
// main.tsx imports this module first, so it runs before any other module's code. Production builds
// only: Vite's dev server needs inline scripts and a websocket for hot reload.
import { documentCsp } from '../../core/privacy/csp';
import { useEncoderStore } from '../encoder/encoder-store';

const SELECTOR = 'meta[http-equiv="Content-Security-Policy" i]';

function install(): boolean {
  if (!import.meta.env.PROD) return false;
  const meta = document.createElement('meta');
  meta.httpEquiv = 'Content-Security-Policy';
  // zustand's persist middleware reads localStorage synchronously, so the saved endpoint is here.
  meta.content = documentCsp(useEncoderStore.getState().hubEndpoint);
  meta.dataset['source'] = 'hub-endpoint';
  document.head.append(meta);
  return true;
}

const installed = install();

/** Every policy the document enforces (all apply at once, so the strictest directive wins). */
export function policiesInForce(): string[] {
  return [...document.querySelectorAll<HTMLMetaElement>(SELECTOR)].map((m) => m.content);
}

/**
 * Whether the start-up policy is in force (production builds). Then a new hub endpoint needs a
 * reload to be reachable (a policy can be tightened, never widened, while the page lives), and no
 * other host can be reached at all.
 */
export function documentPolicyInstalled(): boolean {
  return installed;
}
