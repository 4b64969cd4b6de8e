import { describe, expect, it } from 'vitest';
import { buildCsp, connectAllowed, directive, documentCsp, hubConnectSources, STATIC_DOCUMENT_CSP, WORKER_CSP } from './csp';
import { bodyBytes, ledgerBadgeText, ledgerHeadline, NetworkLedger } from './network-ledger';
import { channelSink, deliver, type NetworkMessage } from './network-watch';

describe('Content-Security-Policy', () => {
  it('allows Hugging Face and its download hosts for the default endpoint', () => {
    const connect = directive(documentCsp('https://huggingface.co'), 'connect-src');
    expect(connect).toBe("'self' https://huggingface.co https://*.huggingface.co https://hf.co https://*.hf.co");
    expect(hubConnectSources('https://hf.co')).toContain('https://*.hf.co');
  });

  it('allows only the origin of a mirror, without its path', () => {
    expect(hubConnectSources('http://127.0.0.1:9000/mirror')).toEqual(['http://127.0.0.1:9000']);
    expect(hubConnectSources('https://evil-huggingface.co')).toEqual(['https://evil-huggingface.co']);
    expect(hubConnectSources('ftp://x')).toEqual([]);
    expect(hubConnectSources('not a url')).toEqual([]);
  });

  it('says which URLs the policy lets the page reach', () => {
    const self = 'http://127.0.0.1:4173';
    expect(connectAllowed('/assets/x.wasm', 'https://huggingface.co', self)).toBe(true);
    expect(connectAllowed('https://huggingface.co/a/b/resolve/main/m.onnx', 'https://huggingface.co', self)).toBe(true);
    expect(connectAllowed('https://cas-bridge.xethub.hf.co/x', 'https://huggingface.co', self)).toBe(true);
    expect(connectAllowed('https://evilhf.co/x', 'https://huggingface.co', self)).toBe(false);
    expect(connectAllowed('http://cdn-lfs.hf.co/x', 'https://huggingface.co', self)).toBe(false);
    expect(connectAllowed('https://example.com/m.onnx', 'https://huggingface.co', self)).toBe(false);
    expect(connectAllowed('http://127.0.0.1:9000/m.onnx', 'http://127.0.0.1:9000/mirror', self)).toBe(true);
    expect(connectAllowed('http://127.0.0.1:9001/m.onnx', 'http://127.0.0.1:9000', self)).toBe(false);
  });

  it('keeps scripts and workers on the own origin, with WebAssembly but no eval', () => {
    const p = buildCsp([]);
    expect(directive(p, 'script-src')).toBe("'self' 'wasm-unsafe-eval'");
    expect(directive(p, 'worker-src')).toBe("'self'");
    expect(directive(p, 'object-src')).toBe("'none'");
    expect(p).not.toMatch(/unsafe-inline|'unsafe-eval'|\*(?!\.)/);
    expect(directive(WORKER_CSP, 'connect-src')).toBe("'self'");
    expect(directive(STATIC_DOCUMENT_CSP, 'connect-src')).toBe("'self' https: http:");
  });
});

describe('NetworkLedger', () => {
  it('counts requests by origin and the bytes that left, and says so in one line', () => {
    const ledger = new NetworkLedger('http://app.test');
    let changes = 0;
    ledger.subscribe(() => changes++);
    ledger.recordRequest('/assets/index.js', true);
    ledger.recordRequest('http://app.test/demo/a.png', true);
    ledger.recordRequest('data:image/png;base64,AAAA', true);
    ledger.recordRequest('https://huggingface.co/api/models/a/b', true);
    ledger.recordRequest('https://cdn-lfs.hf.co/x', true);
    ledger.recordRequest('https://huggingface.co/a/b/resolve/main/model.onnx', true);
    ledger.recordRequest('https://cdn-lfs.hf.co/y', false);
    const s = ledger.summary();
    expect(s.selfRequests).toBe(2);
    expect(s.otherOrigins).toEqual([
      { origin: 'https://huggingface.co', answered: 2, unanswered: 0 },
      { origin: 'https://cdn-lfs.hf.co', answered: 1, unanswered: 1 },
    ]);
    expect(s.bytesSent).toBe(0);
    expect(ledgerHeadline(s)).toBe('2 downloads from huggingface.co, 1 download from cdn-lfs.hf.co · 0 bytes of your data sent');
    expect(ledgerBadgeText(s)).toBe('0 bytes sent · 3 downloads');
    expect(ledger.summary()).toBe(s); // stable snapshot until something changes
    ledger.recordSend({ channel: 'fetch', method: 'POST', url: 'http://app.test/x', bytes: 1500 });
    ledger.recordSend({ channel: 'websocket', method: 'SEND', url: 'ws://app.test/s', bytes: null });
    ledger.recordFailedSend({ channel: 'fetch', method: 'POST', url: 'http://elsewhere.test/x', bytes: 99 });
    ledger.recordBlocked({ url: 'http://elsewhere.test', directive: 'connect-src' });
    expect(ledger.summary().failedSends).toHaveLength(1);
    expect(ledger.summary().blocked).toEqual([{ url: 'http://elsewhere.test', directive: 'connect-src' }]);
    expect(ledger.summary().bytesSent).toBe(1500);
    expect(ledgerHeadline(ledger.summary())).toMatch(/1\.5 KB \+ 1 of unknown size sent$/);
    expect(changes).toBe(10);
  });

  it('measures bodies of every kind, and refuses to guess a stream', () => {
    expect(bodyBytes(undefined)).toBe(0);
    expect(bodyBytes('é')).toBe(2);
    expect(bodyBytes(new Uint8Array(7))).toBe(7);
    expect(bodyBytes(new ArrayBuffer(3))).toBe(3);
    expect(bodyBytes(new Blob(['abcd']))).toBe(4);
    expect(bodyBytes(new URLSearchParams({ a: 'b' }))).toBe(3);
    const form = new FormData();
    form.append('k', 'vv');
    form.append('f', new Blob(['12345']));
    expect(bodyBytes(form)).toBe(7);
    expect(bodyBytes(new ReadableStream())).toBeNull();
    expect(ledgerHeadline(new NetworkLedger('http://a').summary())).toBe('0 bytes sent');
    const offline = new NetworkLedger('http://a');
    offline.recordRequest('https://huggingface.co/api/models/a/b', false);
    expect(ledgerHeadline(offline.summary())).toBe('0 bytes sent'); // a request with no answer downloaded nothing
    expect(ledgerBadgeText(offline.summary())).toBe('0 bytes sent');
    expect(ledgerBadgeText(new NetworkLedger('http://a').summary())).toBe('0 bytes sent');
  });
});

describe('worker reports', () => {
  it('arrive in the page ledger exactly as if the page had seen them', () => {
    const posted: NetworkMessage[] = [];
    const worker = channelSink({ postMessage: (m) => posted.push(structuredClone(m)) });
    worker.recordRequest('http://app.test/assets/ort.wasm', true);
    worker.recordRequest('https://huggingface.co/x', false);
    worker.recordSend({ channel: 'fetch', method: 'PUT', url: 'http://app.test/y', bytes: 12 });
    worker.recordFailedSend({ channel: 'xhr', method: 'POST', url: 'http://evil.test/', bytes: 3 });
    worker.recordBlocked({ url: 'http://evil.test/', directive: 'connect-src' });
    const page = new NetworkLedger('http://app.test');
    for (const m of posted) deliver(page, m);
    const s = page.summary();
    expect(s.selfRequests).toBe(1);
    expect(s.otherOrigins).toEqual([{ origin: 'https://huggingface.co', answered: 0, unanswered: 1 }]);
    expect(s.bytesSent).toBe(12);
    expect(s.failedSends).toHaveLength(1);
    expect(s.blocked).toEqual([{ url: 'http://evil.test/', directive: 'connect-src' }]);
  });
});
