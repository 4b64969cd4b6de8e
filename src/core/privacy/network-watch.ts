// Watches what a JS context (the page or a worker) does on the network and reports it to a sink:
// resource timings for every request, wrappers on the APIs that can carry a body out (fetch,
// XMLHttpRequest, sendBeacon, WebSocket), and the policy's reports of refused connections. The page
// feeds its NetworkLedger directly; workers post to the page over a BroadcastChannel.
import { bodyBytes, type BlockedRecord, type SendChannel, type SendRecord } from './network-ledger';

export interface NetworkSink {
  recordRequest(url: string, answered: boolean): void;
  recordSend(record: SendRecord): void;
  recordFailedSend(record: SendRecord): void;
  recordBlocked(record: BlockedRecord): void;
}

/** What workers post to the page on NETWORK_CHANNEL. */
export type NetworkMessage =
  | { readonly kind: 'request'; readonly url: string; readonly answered: boolean }
  | { readonly kind: 'send' | 'failed-send'; readonly record: SendRecord }
  | { readonly kind: 'blocked'; readonly record: BlockedRecord };

export const NETWORK_CHANNEL = 'dede-network-ledger';

/** Replays a worker's message into a sink (the page's ledger). */
export function deliver(sink: NetworkSink, message: NetworkMessage): void {
  switch (message.kind) {
    case 'request':
      return sink.recordRequest(message.url, message.answered);
    case 'send':
      return sink.recordSend(message.record);
    case 'failed-send':
      return sink.recordFailedSend(message.record);
    case 'blocked':
      return sink.recordBlocked(message.record);
  }
}

/** A sink that posts to the page: what a worker uses. */
export function channelSink(channel: { postMessage(message: NetworkMessage): void }): NetworkSink {
  return {
    recordRequest: (url, answered) => channel.postMessage({ kind: 'request', url, answered }),
    recordSend: (record) => channel.postMessage({ kind: 'send', record }),
    recordFailedSend: (record) => channel.postMessage({ kind: 'failed-send', record }),
    recordBlocked: (record) => channel.postMessage({ kind: 'blocked', record }),
  };
}

const sendsBody = (method: string, body: unknown) => !/^(GET|HEAD)$/i.test(method) || (body !== null && body !== undefined);

/** Installs the watchers on this global scope (once). */
export function watchNetwork(sink: NetworkSink): void {
  const scope = globalThis as typeof globalThis & { __dedeNetworkWatched?: boolean };
  if (scope.__dedeNetworkWatched) return;
  scope.__dedeNetworkWatched = true;
  const base = scope.location.href;
  const absolute = (url: string | URL) => new URL(String(url), base).href;
  const record = (channel: SendChannel, method: string, url: string, body: unknown, answered: boolean, protocol?: string) => {
    const entry: SendRecord = { channel, method: method.toUpperCase(), url, bytes: bodyBytes(body), ...(protocol ? { protocol } : {}) };
    if (answered) sink.recordSend(entry);
    else sink.recordFailedSend(entry);
  };

  new PerformanceObserver((list) => {
    // responseStatus is 0 when no response came (Chromium reports failed fetches too).
    for (const entry of list.getEntries()) sink.recordRequest(entry.name, (entry as PerformanceResourceTiming).responseStatus !== 0);
  }).observe({ type: 'resource', buffered: true });
  // The page or worker script itself was a request too.
  sink.recordRequest(base, true);

  const originalFetch = scope.fetch.bind(scope);
  scope.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : null;
    const url = absolute(input instanceof Request ? input.url : input);
    const method = init?.method ?? request?.method ?? 'GET';
    // A Request's own body is a stream: its size is unknown unless init replaces it.
    const body = init?.body !== undefined ? init.body : (request?.body ?? null);
    if (!sendsBody(method, body)) return originalFetch(input, init);
    try {
      const response = await originalFetch(input, init);
      record('fetch', method, url, body, true);
      return response;
    } catch (err) {
      record('fetch', method, url, body, false);
      throw err;
    }
  };

  if (typeof XMLHttpRequest !== 'undefined') {
    const targets = new WeakMap<XMLHttpRequest, { method: string; url: string }>();
    const open = XMLHttpRequest.prototype.open as (this: XMLHttpRequest, method: string, url: string | URL, ...rest: unknown[]) => void;
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.open = function (this: XMLHttpRequest, method: string, url: string | URL, ...rest: unknown[]) {
      targets.set(this, { method, url: absolute(url) });
      return open.call(this, method, url, ...rest);
    } as typeof XMLHttpRequest.prototype.open;
    XMLHttpRequest.prototype.send = function (this: XMLHttpRequest, body?: XMLHttpRequestBodyInit | null) {
      const target = targets.get(this);
      if (target && sendsBody(target.method, body)) {
        // Status 0 at the end means no answer came (refused, offline, aborted).
        this.addEventListener('loadend', () => record('xhr', target.method, target.url, body, this.status !== 0), { once: true });
      }
      return send.call(this, body);
    };
  }

  const nav = scope.navigator as Navigator & { sendBeacon?: (url: string | URL, data?: BodyInit | null) => boolean };
  if (typeof nav.sendBeacon === 'function') {
    const beacon = nav.sendBeacon.bind(nav);
    nav.sendBeacon = (url: string | URL, data?: BodyInit | null) => {
      const queued = beacon(url, data);
      // A queued beacon leaves later, without telling anyone: count it as sent.
      record('beacon', 'POST', absolute(url), data, queued);
      return queued;
    };
  }

  if (typeof WebSocket !== 'undefined') {
    const socketSend = WebSocket.prototype.send;
    WebSocket.prototype.send = function (this: WebSocket, data: Parameters<WebSocket['send']>[0]) {
      // Only an open socket sends (the policy refuses the connection itself).
      record('websocket', 'SEND', this.url, data, this.readyState === WebSocket.OPEN, this.protocol);
      return socketSend.call(this, data);
    };
  }

  scope.addEventListener('securitypolicyviolation', (e) => {
    const v = e as SecurityPolicyViolationEvent;
    sink.recordBlocked({ url: v.blockedURI, directive: v.effectiveDirective });
  });
}
