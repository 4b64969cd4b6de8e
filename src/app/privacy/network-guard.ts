// Feeds the page's NetworkLedger: resource timings for every request the page makes, wrappers on
// the APIs that can carry a body out, and the policy's own reports of refused connections.
// Workers are not watched here: the server gives their scripts a policy that lets them connect to
// their own origin only (WORKER_CSP), and the models reach them as bytes from this page.
import { bodyBytes, NetworkLedger, type SendChannel } from '../../core/privacy/network-ledger';

export const networkLedger = new NetworkLedger(location.origin);

const sendsBody = (method: string, body: unknown) => !/^(GET|HEAD)$/i.test(method) || (body !== null && body !== undefined);

function record(channel: SendChannel, method: string, url: string, body: unknown, answered: boolean): void {
  const entry = { channel, method: method.toUpperCase(), url, bytes: bodyBytes(body) };
  if (answered) networkLedger.recordSend(entry);
  else networkLedger.recordFailedSend(entry);
}

function watchResources(): void {
  new PerformanceObserver((list) => {
    // responseStatus is 0 when no response came (Chromium reports failed fetches too).
    for (const entry of list.getEntries()) networkLedger.recordRequest(entry.name, (entry as PerformanceResourceTiming).responseStatus !== 0);
  }).observe({ type: 'resource', buffered: true });
  // Navigations (the page itself) are requests too, to the own origin.
  networkLedger.recordRequest(location.href);
}

function wrapFetch(): void {
  const original = globalThis.fetch.bind(globalThis);
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input), location.href).href;
    const method = init?.method ?? request?.method ?? 'GET';
    // A Request's own body is a stream: its size is unknown unless init replaces it.
    const body = init?.body !== undefined ? init.body : (request?.body ?? null);
    if (!sendsBody(method, body)) return original(input, init);
    try {
      const response = await original(input, init);
      record('fetch', method, url, body, true);
      return response;
    } catch (err) {
      record('fetch', method, url, body, false);
      throw err;
    }
  };
}

function wrapXhr(): void {
  const targets = new WeakMap<XMLHttpRequest, { method: string; url: string }>();
  const open = XMLHttpRequest.prototype.open as (this: XMLHttpRequest, method: string, url: string | URL, ...rest: unknown[]) => void;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (this: XMLHttpRequest, method: string, url: string | URL, ...rest: unknown[]) {
    targets.set(this, { method, url: new URL(String(url), location.href).href });
    return open.call(this, method, url, ...rest);
  } as typeof XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.send = function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
    const target = targets.get(this);
    const payload = body instanceof Document ? new XMLSerializer().serializeToString(body) : body;
    if (target && sendsBody(target.method, payload)) {
      // Status 0 at the end means no answer came (refused, offline, aborted).
      this.addEventListener('loadend', () => record('xhr', target.method, target.url, payload, this.status !== 0), { once: true });
    }
    return send.call(this, body);
  };
}

function wrapBeaconAndSockets(): void {
  if (typeof navigator.sendBeacon === 'function') {
    const beacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (url: string | URL, data?: BodyInit | null) => {
      const queued = beacon(url, data);
      // A queued beacon leaves later, without telling anyone: count it as sent.
      record('beacon', 'POST', new URL(String(url), location.href).href, data, queued);
      return queued;
    };
  }
  const socketSend = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket, data: Parameters<WebSocket['send']>[0]) {
    // Only an open socket sends (the policy refuses the connection itself).
    record('websocket', 'SEND', this.url, data, this.readyState === WebSocket.OPEN);
    return socketSend.call(this, data);
  };
}

function watchViolations(): void {
  document.addEventListener('securitypolicyviolation', (e) => {
    networkLedger.recordBlocked({ url: e.blockedURI, directive: e.effectiveDirective });
  });
}

watchResources();
wrapFetch();
wrapXhr();
wrapBeaconAndSockets();
watchViolations();
