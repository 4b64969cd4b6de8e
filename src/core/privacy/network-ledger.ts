// What this page sent over the network, kept as counts the UI can show ("0 bytes sent"). Requests
// are counted from resource timings (every fetch, script, image and worker script the page loads
// shows up there); what they carried out is counted where a body can leave: fetch, XMLHttpRequest,
// sendBeacon and WebSocket. A body whose size cannot be known (a stream) is counted as unknown,
// never as zero.

export type SendChannel = 'fetch' | 'xhr' | 'beacon' | 'websocket';

export interface SendRecord {
  readonly channel: SendChannel;
  readonly method: string;
  readonly url: string;
  /** Bytes of the body; null when it cannot be measured (a stream). */
  readonly bytes: number | null;
}

export interface OriginCount {
  readonly origin: string;
  readonly requests: number;
}

export interface BlockedRecord {
  readonly url: string;
  readonly directive: string;
}

export interface LedgerSummary {
  readonly selfOrigin: string;
  readonly selfRequests: number;
  /** Requests to other origins (e.g. downloads from the hub), most first. */
  readonly otherOrigins: readonly OriginCount[];
  /** Requests that carried a body, to any origin (their own origin included). */
  readonly sends: readonly SendRecord[];
  readonly bytesSent: number;
  readonly unknownSizeSends: number;
  /** Connections the Content-Security-Policy refused. */
  readonly blocked: readonly BlockedRecord[];
}

const MAX_KEPT = 200;

/** Size of a fetch/XHR/beacon/WebSocket body in bytes; null when it cannot be known up front. */
export function bodyBytes(body: unknown): number | null {
  if (body === null || body === undefined) return 0;
  if (typeof body === 'string') return new TextEncoder().encode(body).byteLength;
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  if (typeof Blob !== 'undefined' && body instanceof Blob) return body.size;
  if (typeof URLSearchParams !== 'undefined' && body instanceof URLSearchParams) return new TextEncoder().encode(body.toString()).byteLength;
  if (typeof FormData !== 'undefined' && body instanceof FormData) {
    let total = 0;
    body.forEach((value) => {
      total += typeof value === 'string' ? new TextEncoder().encode(value).byteLength : value.size;
    });
    return total;
  }
  return null;
}

export class NetworkLedger {
  private selfRequests = 0;
  private readonly others = new Map<string, number>();
  private readonly sends: SendRecord[] = [];
  private bytesSent = 0;
  private unknownSizeSends = 0;
  private readonly blocked: BlockedRecord[] = [];
  private readonly listeners = new Set<() => void>();
  private snapshot: LedgerSummary | null = null;

  constructor(private readonly selfOrigin: string) {}

  /** A request seen in resource timings (or any other complete list of loads). */
  recordRequest(url: string): void {
    const origin = originOf(url, this.selfOrigin);
    if (origin === null) return; // data:/blob: URLs load nothing from the network
    if (origin === this.selfOrigin) this.selfRequests++;
    else this.others.set(origin, (this.others.get(origin) ?? 0) + 1);
    this.changed();
  }

  /** A request that carries a body out (any method but GET/HEAD, or a WebSocket message). */
  recordSend(record: SendRecord): void {
    if (record.bytes === null) this.unknownSizeSends++;
    else this.bytesSent += record.bytes;
    if (this.sends.length < MAX_KEPT) this.sends.push(record);
    this.changed();
  }

  recordBlocked(record: BlockedRecord): void {
    if (this.blocked.length < MAX_KEPT) this.blocked.push(record);
    this.changed();
  }

  summary(): LedgerSummary {
    this.snapshot ??= {
      selfOrigin: this.selfOrigin,
      selfRequests: this.selfRequests,
      otherOrigins: [...this.others].map(([origin, requests]) => ({ origin, requests })).sort((a, b) => b.requests - a.requests),
      sends: [...this.sends],
      bytesSent: this.bytesSent,
      unknownSizeSends: this.unknownSizeSends,
      blocked: [...this.blocked],
    };
    return this.snapshot;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.snapshot = null;
    for (const l of this.listeners) l();
  }
}

function originOf(url: string, base: string): string | null {
  try {
    const u = new URL(url, base);
    return u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:' ? u.origin : null;
  } catch {
    return null;
  }
}

/** One line for the shell: what left the machine, in the user's terms. */
export function ledgerHeadline(s: LedgerSummary): string {
  const sent = s.unknownSizeSends > 0 ? `${formatBytes(s.bytesSent)} + ${s.unknownSizeSends} of unknown size sent` : `${formatBytes(s.bytesSent)} sent`;
  if (s.otherOrigins.length === 0) return sent;
  const downloads = s.otherOrigins.map((o) => `${o.requests} download${o.requests === 1 ? '' : 's'} from ${new URL(o.origin).host}`).join(', ');
  return `${downloads} · ${s.bytesSent === 0 && s.unknownSizeSends === 0 ? '0 bytes of your data sent' : sent}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} byte${n === 1 ? '' : 's'}`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
