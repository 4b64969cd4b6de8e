// Builds the service worker (workers/service-worker.ts) with the app and writes into it the list of
// files to precache: every file of the build but source maps, plus the PWA files from public/.
// The list's hash is the cache version, so any change to the build installs a new worker.
import { createHash } from 'node:crypto';
import type { Plugin } from 'vite';

const SW_SOURCE = 'workers/service-worker.ts';
export const SW_FILE = 'sw.js';
const PLACEHOLDER = /(["'`])__DEDE_PRECACHE_MANIFEST__\1/;
/** Files from public/ the installed app needs (the demo is cached by the worker on first use). */
const PUBLIC_FILES = ['/favicon.svg', '/manifest.webmanifest', '/icons/icon-192.png', '/icons/icon-512.png', '/icons/icon-maskable-512.png'];

export function pwaPlugin(): Plugin {
  return {
    name: 'dede-pwa',
    apply: 'build',
    enforce: 'post',
    buildStart() {
      this.emitFile({ type: 'chunk', id: SW_SOURCE, fileName: SW_FILE });
    },
    generateBundle(_options, bundle) {
      const built = Object.keys(bundle)
        .filter((f) => f !== SW_FILE && !f.endsWith('.map'))
        .map((f) => (f === 'index.html' ? '/' : `/${f}`));
      const urls = [...new Set(['/', ...built, ...PUBLIC_FILES])].sort();
      const hash = createHash('sha256');
      for (const f of Object.keys(bundle).sort()) {
        const out = bundle[f]!;
        hash.update(f);
        hash.update(out.type === 'chunk' ? out.code : typeof out.source === 'string' ? out.source : Buffer.from(out.source));
      }
      const manifest = JSON.stringify({ version: hash.digest('hex').slice(0, 16), urls });
      const sw = bundle[SW_FILE];
      if (!sw || sw.type !== 'chunk' || !PLACEHOLDER.test(sw.code)) return this.error(`${SW_FILE}: the precache placeholder is missing`);
      sw.code = sw.code.replace(PLACEHOLDER, (_m, quote: string) => `${quote}${escapeForLiteral(manifest, quote)}${quote}`);
    },
  };
}

/** `text` escaped to sit inside a JS string literal delimited by `quote` (the minifier's choice). */
function escapeForLiteral(text: string, quote: string): string {
  const escaped = text.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`);
  return quote === '`' ? escaped.replaceAll('${', '\\${') : escaped;
}
