// Downloads a file with progress, cancel and resume: when a connection breaks mid-file, the next
// attempt asks for the rest with an HTTP Range request (If-Range on the ETag so a changed file
// restarts from zero instead of being stitched together).
import { concatArrays } from '../concat';

export interface DownloadProgress {
  readonly url: string;
  readonly loaded: number;
  /** null when the server sent no length. */
  readonly total: number | null;
  readonly bytesPerSecond: number;
  /** null when unknown. */
  readonly etaSeconds: number | null;
  /** How many times the transfer was resumed after a broken connection. */
  readonly resumes: number;
}

export type DownloadErrorKind = 'unauthorized' | 'forbidden' | 'not-found' | 'http' | 'network' | 'cancelled' | 'too-large';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    readonly kind: DownloadErrorKind,
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

export interface DownloadOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Extra request headers, e.g. Authorization for gated repos. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Resume attempts after a broken connection (default 3). */
  readonly maxResumes?: number;
  /** Refuse files larger than this (default 4 GiB: browsers cannot hold more in one buffer). */
  readonly maxBytes?: number;
  readonly fetch?: typeof fetch;
  /** Time source for speed/ETA (tests). */
  readonly now?: () => number;
}

export interface Downloaded {
  readonly bytes: Uint8Array;
  /** URL after redirects. */
  readonly finalUrl: string;
  readonly etag: string | null;
  /** Hub commit the revision resolved to (X-Repo-Commit), when the server says. */
  readonly commit: string | null;
  readonly resumes: number;
}

const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** A readable message for an HTTP status, in the user's terms. */
export function httpErrorFor(url: string, status: number, statusText = ''): DownloadError {
  const where = hostOf(url);
  switch (status) {
    case 401:
      return new DownloadError('unauthorized', `${where} needs you to sign in for this file (HTTP 401): the repo is gated or private. Accept its terms on the hub and paste an access token.`, 401);
    case 403:
      return new DownloadError('forbidden', `${where} refused access to this file (HTTP 403): your token may lack access to this gated or private repo.`, 403);
    case 404:
      return new DownloadError('not-found', `Not found on ${where} (HTTP 404): check the repo name, the revision and the file path.`, 404);
    case 416:
      return new DownloadError('http', `${where} could not resume the download (HTTP 416); try again.`, 416);
    default:
      return new DownloadError('http', `${where} answered HTTP ${status}${statusText ? ` ${statusText}` : ''}.`, status);
  }
}

function cancelled(): DownloadError {
  return new DownloadError('cancelled', 'Download cancelled.');
}

export async function download(url: string, options: DownloadOptions = {}): Promise<Downloaded> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const now = options.now ?? (() => performance.now());
  const maxResumes = options.maxResumes ?? 3;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  let total: number | null = null;
  let etag: string | null = null;
  let commit: string | null = null;
  let finalUrl = url;
  let resumes = 0;
  const started = now();

  const report = () => {
    const seconds = Math.max((now() - started) / 1000, 1e-3);
    const bytesPerSecond = loaded / seconds;
    const etaSeconds = total !== null && bytesPerSecond > 0 ? (total - loaded) / bytesPerSecond : null;
    options.onProgress?.({ url, loaded, total, bytesPerSecond, etaSeconds, resumes });
  };

  for (;;) {
    if (options.signal?.aborted) throw cancelled();
    const headers: Record<string, string> = { ...options.headers };
    if (loaded > 0) {
      headers['Range'] = `bytes=${loaded}-`;
      if (etag) headers['If-Range'] = etag;
    }
    let response: Response;
    try {
      response = await doFetch(url, { headers, signal: options.signal ?? null, redirect: 'follow' });
    } catch (err) {
      if (options.signal?.aborted) throw cancelled();
      if (loaded > 0 && resumes < maxResumes) {
        resumes++;
        continue;
      }
      throw new DownloadError('network', `Could not reach ${hostOf(url)}: you may be offline, or the server does not allow downloads from this page (CORS). (${err instanceof Error ? err.message : String(err)})`);
    }
    if (!response.ok) throw httpErrorFor(url, response.status, response.statusText);
    finalUrl = response.url || url;
    commit = response.headers.get('x-repo-commit') ?? commit;
    if (loaded > 0 && response.status !== 206) {
      // The server ignored the range (or the file changed): start over.
      chunks.length = 0;
      loaded = 0;
    }
    if (loaded === 0) {
      etag = response.headers.get('x-linked-etag') ?? response.headers.get('etag');
      const length = response.headers.get('content-length');
      total = length !== null && /^\d+$/.test(length) ? Number(length) : null;
      if (response.headers.get('content-encoding')) total = null; // length is of the compressed body
      if (total !== null && total > maxBytes) {
        throw new DownloadError('too-large', `The file is ${formatBytes(total)}, more than this browser can hold (${formatBytes(maxBytes)}).`);
      }
    }
    report();
    const body = response.body;
    if (!body) throw new DownloadError('network', `${hostOf(url)} sent an empty response.`);
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded += value.byteLength;
        if (loaded > maxBytes) throw new DownloadError('too-large', `The file is larger than ${formatBytes(maxBytes)}.`);
        report();
      }
    } catch (err) {
      if (err instanceof DownloadError) throw err;
      if (options.signal?.aborted) throw cancelled();
      if (resumes < maxResumes) {
        resumes++;
        continue;
      }
      throw new DownloadError('network', `The connection to ${hostOf(url)} broke ${resumes} times; the download stopped at ${formatBytes(loaded)}. Try again to resume.`);
    }
    if (total !== null && loaded < total) {
      // The stream ended early without an error: treat as a broken connection.
      if (resumes < maxResumes) {
        resumes++;
        continue;
      }
      throw new DownloadError('network', `${hostOf(url)} sent ${formatBytes(loaded)} of ${formatBytes(total)}.`);
    }
    break;
  }
  return { bytes: concat(chunks, loaded), finalUrl, etag, commit, resumes };
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  // A one-chunk download is returned as is: no copy of a large model.
  if (chunks.length === 1 && chunks[0]!.byteLength === length) return chunks[0]!;
  return concatArrays(Uint8Array, chunks);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Hex SHA-256 (Web Crypto: browsers, workers and Node alike). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
