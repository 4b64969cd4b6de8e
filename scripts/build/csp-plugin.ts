// Puts the app's Content-Security-Policy into the production build: a <meta> in index.html (for any
// static host), and, from `vite preview`, a header on every script so that workers (which take their
// policy from their own script's response, not from the page) may connect only to their origin.
// The dev server carries none: hot reload needs inline scripts and a websocket.
import type { Plugin } from 'vite';
import { STATIC_DOCUMENT_CSP, WORKER_CSP } from '../../src/core/privacy/csp';

export function cspPlugin(): Plugin {
  return {
    name: 'dede-csp',
    // `vite build` writes the meta; `vite preview` (command 'serve', isPreview) sends the header.
    apply: (_config, env) => env.command === 'build' || env.isPreview === true,
    transformIndexHtml: {
      order: 'pre',
      // Right after <meta charset>, before anything that loads.
      handler: (html) => html.replace(/(<meta charset[^>]*>)/i, `$1\n    <meta http-equiv="Content-Security-Policy" content="${STATIC_DOCUMENT_CSP}" />`),
    },
    configurePreviewServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        if (/\.m?js$/.test(path)) res.setHeader('Content-Security-Policy', WORKER_CSP);
        next();
      });
    },
  };
}
