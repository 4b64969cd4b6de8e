// The offline service worker. It precaches the built app (HTML, scripts, styles, ORT's .mjs/.wasm,
// manifest, icons; the list is written in at build time by scripts/build/pwa-plugin.ts) and serves
// it cache-first, so after one visit the app opens with the network off. Responses are stored as
// the server sent them, so the cross-origin isolation headers (COOP/COEP/CORP) and the workers'
// Content-Security-Policy come back with them and `crossOriginIsolated` holds offline.
// It never touches user data: only same-origin GETs of the app's own files and the bundled demo
// pass through it. Models live in their own cache (src/core/hub/store.ts), which this worker leaves
// alone. A new version installs beside the running one and waits until the page asks it to take
// over (the page offers a reload), so a running job is never cut off.

// The worker lib types `self` as a plain worker; this file only ever runs as a service worker.
const sw = self as unknown as ServiceWorkerGlobalScope;

import type { PrecacheManifest } from './precache-manifest';

// The literal is PRECACHE_PLACEHOLDER, replaced by the build with the manifest's JSON (kept as a
// literal here, so the bundler cannot fold it away).
const MANIFEST = JSON.parse('__DEDE_PRECACHE_MANIFEST__') as PrecacheManifest;

const APP_CACHE_PREFIX = 'dede-app-';
const APP_CACHE = `${APP_CACHE_PREFIX}${MANIFEST.version}`;
/** The bundled demo's files, cached as they are first fetched (the demo is ~14 MB: not precached). */
const DEMO_CACHE = 'dede-demo-v1';
const DEMO_PREFIX = '/demo/';
const SHELL = '/';

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(APP_CACHE);
      // `reload` bypasses the HTTP cache, so a new version never precaches an old file.
      await cache.addAll(MANIFEST.urls.map((url) => new Request(url, { cache: 'reload' })));
    })(),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(APP_CACHE_PREFIX) && name !== APP_CACHE) await caches.delete(name);
      }
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('message', (event) => {
  if ((event.data as { type?: unknown } | null)?.type === 'skip-waiting') void sw.skipWaiting();
});

sw.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return; // the hub and anything else: the network, as is
  if (request.mode === 'navigate') return event.respondWith(fromCache(SHELL, request));
  if (url.pathname.startsWith(DEMO_PREFIX)) return event.respondWith(demoFile(request));
  if (MANIFEST.urls.includes(url.pathname)) return event.respondWith(fromCache(url.pathname, request));
});

/** The precached copy, or the network when the precache lacks it (e.g. evicted). */
async function fromCache(path: string, request: Request): Promise<Response> {
  const cached = await (await caches.open(APP_CACHE)).match(path);
  return cached ?? fetch(request);
}

async function demoFile(request: Request): Promise<Response> {
  const cache = await caches.open(DEMO_CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.status === 200) await cache.put(request, response.clone());
  return response;
}
