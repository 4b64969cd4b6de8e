// What the build writes into the service worker (scripts/build/pwa-plugin.ts) and the worker reads
// (workers/service-worker.ts): the files to precache and a version naming their cache.
export interface PrecacheManifest {
  /** Hash of the whole build: a new build gets a new cache, and the old one is dropped on activation. */
  readonly version: string;
  /** Absolute paths on the app's origin; "/" is the app shell (index.html). */
  readonly urls: readonly string[];
}

/** The string literal in the worker's source that the build replaces with the manifest's JSON. */
export const PRECACHE_PLACEHOLDER = '__DEDE_PRECACHE_MANIFEST__';
