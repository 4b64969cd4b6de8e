import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { cspPlugin } from './scripts/build/csp-plugin';
import { pwaPlugin } from './scripts/build/pwa-plugin';

// Cross-origin isolation: ORT's multithreaded WASM needs SharedArrayBuffer.
const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export default defineConfig({
  // Production builds carry the Content-Security-Policy and the offline service worker.
  plugins: [react(), cspPlugin(), pwaPlugin()],
  server: { headers: isolationHeaders },
  preview: { headers: isolationHeaders },
  // ORT ships its own .mjs/.wasm loaders; pre-bundling breaks their relative lookups.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 2048 },
});
