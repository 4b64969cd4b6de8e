// Builds the service worker (workers/service-worker.ts) with the app and writes into it the list of
// files to precache: every file of the build but source maps, plus the PWA files from public/.
// The list's hash is the cache version, so any change to the build installs a new worker.
import { createHash } from 'node:crypto';
import type { Plugin } from 'vite';
import { PRECACHE_PLACEHOLDER, type PrecacheManifest } from '../../workers/precache-manifest';

const SW_SOURCE = 'workers/service-worker.ts';
export const SW_FILE = 'sw.js';
/** Files from public/ the installed app needs (the demo is cached by the worker on first use). */
const PUBLIC_FILES = ['/favicon.svg', '/manifest.webmanifest', '/icons/icon-192.png', '/icons/icon-512.png', '/icons/icon-maskable-512.png'];

export interface BuiltFile {
  readonly fileName: string;
  readonly content: string | Uint8Array;
}

/** The precache manifest of a build (its files other than the service worker itself). */
export function precacheManifest(files: readonly BuiltFile[]): PrecacheManifest {
  const sorted = [...files].filter((f) => f.fileName !== SW_FILE).sort((a, b) => a.fileName.localeCompare(b.fileName));
  const hash = createHash('sha256');
  for (const f of sorted) hash.update(f.fileName).update(f.content);
  const built = sorted.filter((f) => !f.fileName.endsWith('.map')).map((f) => (f.fileName === 'index.html' ? '/' : `/${f.fileName}`));
  return { version: hash.digest('hex').slice(0, 16), urls: [...new Set(['/', ...built, ...PUBLIC_FILES])].sort() };
}

/** The worker's code with the placeholder literal (any quote the minifier chose) replaced by the manifest. */
export function injectManifest(code: string, manifest: PrecacheManifest): string {
  const placeholder = new RegExp(`(["'\`])${PRECACHE_PLACEHOLDER}\\1`);
  if (!placeholder.test(code)) throw new Error(`${SW_FILE}: the precache placeholder is missing`);
  const json = JSON.stringify(manifest);
  return code.replace(placeholder, (_m, quote: string) => `${quote}${escapeForLiteral(json, quote)}${quote}`);
}

/** `text` escaped to sit inside a JS string literal delimited by `quote`. */
function escapeForLiteral(text: string, quote: string): string {
  const escaped = text.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`);
  return quote === '`' ? escaped.replaceAll('${', '\\${') : escaped;
}

export function pwaPlugin(): Plugin {
  return {
    name: 'dede-pwa',
    apply: 'build',
    enforce: 'post',
    buildStart() {
      this.emitFile({ type: 'chunk', id: SW_SOURCE, fileName: SW_FILE });
    },
    generateBundle(_options, bundle) {
      const files = Object.values(bundle).map((out) => ({ fileName: out.fileName, content: out.type === 'chunk' ? out.code : out.source }));
      const sw = bundle[SW_FILE];
      if (!sw || sw.type !== 'chunk') return this.error(`${SW_FILE} was not built`);
      try {
        sw.code = injectManifest(sw.code, precacheManifest(files));
      } catch (err) {
        this.error(err instanceof Error ? err.message : String(err));
      }
    },
  };
}
