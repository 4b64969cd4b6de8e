// What this page sent over the network, kept as counts the UI can show ("0 bytes sent"). Requests
// are counted from resource timings (every fetch, script, image and worker script the page loads
// shows up there); what they carried out is counted where a body can leave: fetch, XMLHttpRequest,
// sendBeacon and WebSocket, once the request got an answer (a request the policy refused never
// left; it is listed as refused, not counted as sent). A body whose size cannot be known (a stream)
// is counted as unknown, never as zero.
import { isDevServerRequest, isDevServerSend } from './dev-server-traffic';

export type SendChannel = 'fetch' | 'xhr' | 'beacon' | 'websocket';

export interface SendRecord {
  readonly channel: SendChannel;
  readonly method: string;
  readonly url: string;
  /** Bytes of the body; null when it cannot be measured (a stream). */
  readonly bytes: number | null;
  /** The WebSocket's subprotocol, for a WebSocket message. */
  readonly protocol?: string;
}

export interface OriginCount {
  readonly origin: string;
  /** Requests that got an answer (downloads: the hub's API and files). */
  readonly answered: number;
  /** Requests that got none (offline, refused, unreachable). */
  readonly unanswered: number;
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
  /** Requests with a body that failed before any answer (refused by the policy, offline, …). */
  readonly failedSends: readonly SendRecord[];
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
  private readonly others = new Map<string, { answered: number; unanswered: number }>();
  private readonly sends: SendRecord[] = [];
  private readonly failedSends: SendRecord[] = [];
  private bytesSent = 0;
  private unknownSizeSends = 0;
  private readonly blocked: BlockedRecord[] = [];
  private readonly listeners = new Set<() => void>();
  private snapshot: LedgerSummary | null = null;

  /**
   * `devServer`: the page comes from Vite's dev server (a dev build), whose own traffic (hot-reload
   * socket, module requests) is left out; production builds count everything.
   */
  constructor(
    private readonly selfOrigin: string,
    private readonly options: { readonly devServer?: boolean } = {},
  ) {}

  /** A request seen in resource timings; `answered` is false when no response came. */
  recordRequest(url: string, answered: boolean): void {
    if (this.options.devServer && isDevServerRequest(url, this.selfOrigin)) return;
    const origin = originOf(url, this.selfOrigin);
    if (origin === null) return; // data:/blob: URLs load nothing from the network
    if (origin === this.selfOrigin) this.selfRequests++;
    else {
      const count = this.others.get(origin) ?? { answered: 0, unanswered: 0 };
      this.others.set(origin, answered ? { ...count, answered: count.answered + 1 } : { ...count, unanswered: count.unanswered + 1 });
    }
    this.changed();
  }

  /** A request that carried a body out and got an answer (any method but GET/HEAD, or a WebSocket message). */
  recordSend(record: SendRecord): void {
    if (this.options.devServer && isDevServerSend(record, this.selfOrigin)) return;
    if (record.bytes === null) this.unknownSizeSends++;
    else this.bytesSent += record.bytes;
    if (this.sends.length < MAX_KEPT) this.sends.push(record);
    this.changed();
  }

  /** A request with a body that got no answer: nothing is known to have left. */
  recordFailedSend(record: SendRecord): void {
    if (this.options.devServer && isDevServerSend(record, this.selfOrigin)) return;
    if (this.failedSends.length < MAX_KEPT) this.failedSends.push(record);
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
      otherOrigins: [...this.others].map(([origin, c]) => ({ origin, ...c })).sort((a, b) => b.answered - a.answered),
      sends: [...this.sends],
      failedSends: [...this.failedSends],
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

function sentText(s: LedgerSummary): string {
  return s.unknownSizeSends > 0 ? `${formatBytes(s.bytesSent)} + ${s.unknownSizeSends} of unknown size sent` : `${formatBytes(s.bytesSent)} sent`;
}

/** The shell badge's short form: what left, and how many downloads came in. */
export function ledgerBadgeText(s: LedgerSummary): string {
  const downloads = s.otherOrigins.reduce((a, o) => a + o.answered, 0);
  return downloads === 0 ? sentText(s) : `${sentText(s)} · ${downloads} download${downloads === 1 ? '' : 's'}`;
}

/** One line on what left the machine, in the user's terms (the badge's details, the report). */
export function ledgerHeadline(s: LedgerSummary): string {
  const sent = sentText(s);
  const from = s.otherOrigins.filter((o) => o.answered > 0);
  if (from.length === 0) return sent;
  const downloads = from.map((o) => `${o.answered} download${o.answered === 1 ? '' : 's'} from ${new URL(o.origin).host}`).join(', ');
  return `${downloads} · ${s.bytesSent === 0 && s.unknownSizeSends === 0 ? '0 bytes of your data sent' : sent}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} byte${n === 1 ? '' : 's'}`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
