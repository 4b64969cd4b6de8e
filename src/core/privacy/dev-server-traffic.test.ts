import { describe, expect, it } from 'vitest';
import { isDevServerRequest, isDevServerSend } from './dev-server-traffic';
import { NetworkLedger, type SendRecord } from './network-ledger';

const self = 'http://127.0.0.1:5173';
// What Vite's client sends on connecting (its `vite:ws:connect` custom event).
const hmrHello = JSON.stringify({ type: 'custom', event: 'vite:ws:connect', data: { webSocket: {} } });
const hmr: SendRecord = { channel: 'websocket', method: 'SEND', url: 'ws://127.0.0.1:5173/?token=abc', bytes: hmrHello.length, protocol: 'vite-hmr' };

describe('the dev server’s own traffic', () => {
  it('is the hot-reload socket to the page’s own host and port, nothing else', () => {
    expect(isDevServerSend(hmr, self)).toBe(true);
    expect(isDevServerSend({ ...hmr, url: 'wss://127.0.0.1:5173/', protocol: 'vite-ping' }, self)).toBe(true);
    // Another port, another host, another subprotocol, no subprotocol, or another channel: counted.
    expect(isDevServerSend({ ...hmr, url: 'ws://127.0.0.1:5174/' }, self)).toBe(false);
    expect(isDevServerSend({ ...hmr, url: 'ws://evil.test:5173/' }, self)).toBe(false);
    expect(isDevServerSend({ ...hmr, protocol: 'chat' }, self)).toBe(false);
    const { protocol: _, ...bare } = hmr;
    expect(isDevServerSend(bare, self)).toBe(false);
    expect(isDevServerSend({ ...hmr, channel: 'fetch', method: 'POST', url: `${self}/@vite/client` }, self)).toBe(false);
  });

  it('is the module requests the dev server answers, on its own origin only', () => {
    for (const path of ['/@vite/client', '/@react-refresh', '/@id/__x00__react/jsx-dev-runtime', '/@fs/work/x.ts', '/node_modules/.vite/deps/react.js?v=1a2b', '/src/app/main.tsx', '/workers/model.worker.ts?worker_file&type=module', '/node_modules/comlink/dist/esm/comlink.mjs?import', '/src/app/App.tsx?t=1700000000']) {
      expect(isDevServerRequest(`${self}${path}`, self), path).toBe(true);
    }
    expect(isDevServerRequest(`${self}/demo/images/labels.json`, self)).toBe(false);
    expect(isDevServerRequest(`${self}/`, self)).toBe(false);
    expect(isDevServerRequest('https://huggingface.co/src/app/main.tsx', self)).toBe(false);
    expect(isDevServerRequest('http://127.0.0.1:5174/@vite/client', self)).toBe(false);
  });
});

describe('a dev build’s ledger', () => {
  function feed(ledger: NetworkLedger): void {
    ledger.recordRequest(`${self}/@vite/client`, true);
    ledger.recordRequest(`${self}/src/app/main.tsx`, true);
    ledger.recordRequest(`${self}/demo/images/labels.json`, true);
    ledger.recordSend(hmr);
    ledger.recordSend(hmr);
    ledger.recordFailedSend(hmr);
  }

  it('reads "0 bytes sent" when only the dev server talked, and counts the rest', () => {
    const dev = new NetworkLedger(self, { devServer: true });
    feed(dev);
    expect(dev.summary()).toMatchObject({ selfRequests: 1, bytesSent: 0, sends: [], failedSends: [] });
    // The user's data leaving over a socket to the same host is still sent data.
    dev.recordSend({ channel: 'websocket', method: 'SEND', url: 'ws://127.0.0.1:5173/', bytes: 7 });
    expect(dev.summary().bytesSent).toBe(7);
  });

  it('is not applied to production builds', () => {
    const prod = new NetworkLedger(self);
    feed(prod);
    expect(prod.summary()).toMatchObject({ selfRequests: 3, bytesSent: 2 * hmrHello.length });
    expect(prod.summary().failedSends).toHaveLength(1);
  });
});
