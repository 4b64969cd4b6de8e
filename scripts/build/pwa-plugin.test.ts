import { describe, expect, it } from 'vitest';
import { injectManifest, precacheManifest } from './pwa-plugin';

const files = [
  { fileName: 'index.html', content: '<!doctype html>' },
  { fileName: 'assets/index-abc.js', content: 'console.log(1)' },
  { fileName: 'assets/index-abc.js.map', content: '{}' },
  { fileName: 'assets/ort-x.wasm', content: new Uint8Array([0, 97, 115, 109]) },
  { fileName: 'sw.js', content: 'self' },
];

describe('service worker precache', () => {
  it('lists the app shell, the built files and the PWA files, never source maps or the worker itself', () => {
    const m = precacheManifest(files);
    expect(m.urls).toEqual([
      '/', '/assets/index-abc.js', '/assets/ort-x.wasm', '/favicon.svg', '/icons/icon-192.png', '/icons/icon-512.png', '/icons/icon-maskable-512.png', '/manifest.webmanifest',
    ]);
    expect(m.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('gets a new version when any built byte changes, and the same one otherwise', () => {
    const v = precacheManifest(files).version;
    expect(precacheManifest([...files].reverse()).version).toBe(v);
    expect(precacheManifest(files.map((f) => (f.fileName === 'assets/ort-x.wasm' ? { ...f, content: new Uint8Array([0, 97, 115, 110]) } : f))).version).not.toBe(v);
  });

  it('writes the manifest into whatever string literal the minifier made of the placeholder', () => {
    const m = { version: 'v1', urls: ['/', "/a'b`${x}\\.js"] };
    for (const q of ["'", '"', '`']) {
      const code = `const M=JSON.parse(${q}__DEDE_PRECACHE_MANIFEST__${q});globalThis.out=M;`;
      const out = injectManifest(code, m);
      const scope: { out?: unknown } = {};
      new Function('globalThis', out)(scope);
      expect(scope.out).toEqual(m);
    }
    expect(() => injectManifest('const M = 1;', m)).toThrow(/placeholder is missing/);
  });
});
