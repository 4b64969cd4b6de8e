// Downloads a file with progress, cancel and resume: when a connection breaks mid-file, the next
// attempt asks for the rest with an HTTP Range request (If-Range on the ETag so a changed file
// restarts from zero instead of being stitched together).
import { concatArrays } from '../concat';
import { CancelledError } from '../runtime/cancel';
import { errorText } from '../runtime/error-text';

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

/** A cancelled download is not a DownloadError: it throws CancelledError (src/core/runtime/cancel.ts). */
export type DownloadErrorKind = 'unauthorized' | 'forbidden' | 'not-found' | 'http' | 'network' | 'too-large';

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

function cancelled(): CancelledError {
  return new CancelledError('Download cancelled.');
}

/**
 * An open transfer read chunk by chunk. A broken connection is resumed inside the same sequence of
 * chunks with a Range request, so a consumer (the cache writer) sees one uninterrupted stream.
 */
export interface DownloadReader {
  readonly url: string;
  /** URL after redirects (the hub answers large files with a redirect to its CDN). */
  readonly finalUrl: string;
  /** null when the server sent no length. */
  readonly total: number | null;
  readonly etag: string | null;
  /** Hub commit the revision resolved to (X-Repo-Commit), when the server says. */
  readonly commit: string | null;
  readonly loaded: number;
  readonly resumes: number;
  /** The next chunk, or null at the end of the file. */
  read(): Promise<Uint8Array | null>;
  /** Stops the transfer and frees the connection. */
  cancel(): Promise<void>;
}

interface Opened {
  readonly body: ReadableStreamDefaultReader<Uint8Array>;
  /** Bytes already read from `body` that are still to be passed on. */
  carry: Uint8Array | null;
}

/**
 * Starts a download: the first request is made (and HTTP errors thrown) before this returns, so
 * nothing is written anywhere for a 401 or 404.
 */
export async function openDownload(url: string, options: DownloadOptions = {}): Promise<DownloadReader> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const now = options.now ?? (() => performance.now());
  const maxResumes = options.maxResumes ?? 3;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const started = now();
  const state = { finalUrl: url, total: null as number | null, etag: null as string | null, commit: null as string | null, loaded: 0, resumes: 0 };
  let current: Opened | null = null;
  let done = false;

  const report = () => {
    const seconds = Math.max((now() - started) / 1000, 1e-3);
    const bytesPerSecond = state.loaded / seconds;
    const etaSeconds = state.total !== null && bytesPerSecond > 0 ? (state.total - state.loaded) / bytesPerSecond : null;
    options.onProgress?.({ url, loaded: state.loaded, total: state.total, bytesPerSecond, etaSeconds, resumes: state.resumes });
  };

  /** One request, from `state.loaded` on; returns null when a resumable network error happened. */
  const request = async (): Promise<Opened | null> => {
    if (options.signal?.aborted) throw cancelled();
    const resuming = state.loaded > 0;
    const headers: Record<string, string> = { ...options.headers };
    if (resuming) {
      headers['Range'] = `bytes=${state.loaded}-`;
      if (state.etag) headers['If-Range'] = state.etag;
    }
    let response: Response;
    try {
      response = await doFetch(url, { headers, signal: options.signal ?? null, redirect: 'follow' });
    } catch (err) {
      if (options.signal?.aborted) throw cancelled();
      if (resuming && state.resumes < maxResumes) return null;
      throw new DownloadError('network', `Could not reach ${hostOf(url)}: you may be offline, or the server does not allow downloads from this page (CORS). (${errorText(err)})`);
    }
    if (!response.ok) throw httpErrorFor(url, response.status, response.statusText);
    state.finalUrl = response.url || url;
    state.commit = response.headers.get('x-repo-commit') ?? state.commit;
    const etag = response.headers.get('x-linked-etag') ?? response.headers.get('etag');
    const length = response.headers.get('content-length');
    const bodyLength = length !== null && /^\d+$/.test(length) && !response.headers.get('content-encoding') ? Number(length) : null;
    if (!response.body) throw new DownloadError('network', `${hostOf(url)} sent an empty response.`);
    const body = response.body.getReader();
    if (!resuming) {
      state.etag = etag;
      state.total = bodyLength; // a compressed body's length is not the file's
      if (state.total !== null && state.total > maxBytes) {
        await body.cancel().catch(() => undefined);
        throw new DownloadError('too-large', `The file is ${formatBytes(state.total)}, more than this browser can hold (${formatBytes(maxBytes)}).`);
      }
    } else if (response.status !== 206) {
      // The server sent the whole file again: fine if it is the same file (the bytes already passed
      // on are skipped), not if it changed meanwhile (they cannot be taken back).
      const same = (etag === state.etag || state.etag === null) && (bodyLength === null || state.total === null || bodyLength === state.total);
      if (!same) {
        await body.cancel().catch(() => undefined);
        throw new DownloadError('http', `The file changed on ${hostOf(url)} during the download; try again.`);
      }
      try {
        return { body, carry: await skip(body, state.loaded, url) };
      } catch (err) {
        if (options.signal?.aborted) throw cancelled();
        if (err instanceof DownloadError || state.resumes >= maxResumes) throw err instanceof DownloadError ? err : new DownloadError('network', `The connection to ${hostOf(url)} broke while resuming at ${formatBytes(state.loaded)}. Try again to resume.`);
        return null; // broke while skipping: another resume
      }
    }
    return { body, carry: null };
  };

  const open = async (): Promise<Opened> => {
    for (;;) {
      const got = await request();
      if (got) return got;
      state.resumes++;
    }
  };

  current = await open();
  report();

  const cancel = async (): Promise<void> => {
    done = true;
    const body = current?.body;
    current = null;
    await body?.cancel().catch(() => undefined);
  };

  return {
    url,
    get finalUrl() { return state.finalUrl; },
    get total() { return state.total; },
    get etag() { return state.etag; },
    get commit() { return state.commit; },
    get loaded() { return state.loaded; },
    get resumes() { return state.resumes; },
    async read() {
      for (;;) {
        if (done) return null;
        if (!current) current = await open();
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          if (current.carry) {
            chunk = { done: false, value: current.carry };
            current.carry = null;
          } else chunk = await current.body.read();
        } catch {
          if (options.signal?.aborted) throw cancelled();
          current = null;
          if (state.resumes < maxResumes) {
            state.resumes++;
            continue;
          }
          throw new DownloadError('network', `The connection to ${hostOf(url)} broke ${state.resumes} times; the download stopped at ${formatBytes(state.loaded)}. Try again to resume.`);
        }
        if (chunk.done) {
          current = null;
          if (state.total !== null && state.loaded < state.total) {
            // The stream ended early without an error: treat as a broken connection.
            if (state.resumes < maxResumes) {
              state.resumes++;
              continue;
            }
            throw new DownloadError('network', `${hostOf(url)} sent ${formatBytes(state.loaded)} of ${formatBytes(state.total)}.`);
          }
          done = true;
          return null;
        }
        if (chunk.value.byteLength === 0) continue;
        state.loaded += chunk.value.byteLength;
        if (state.loaded > maxBytes || (state.total !== null && state.loaded > state.total)) {
          await cancel();
          throw new DownloadError('too-large', `${hostOf(url)} sent more than ${formatBytes(state.total ?? maxBytes)}.`);
        }
        report();
        return chunk.value;
      }
    },
    cancel,
  };
}

/**
 * Reads and drops the first `count` bytes of a body (a server that ignored a Range request);
 * returns the part of the last chunk read that lies past them, if any.
 */
async function skip(body: ReadableStreamDefaultReader<Uint8Array>, count: number, url: string): Promise<Uint8Array | null> {
  let left = count;
  while (left > 0) {
    const { done, value } = await body.read();
    if (done) throw new DownloadError('network', `${hostOf(url)} ended the file early while resuming.`);
    if (value.byteLength > left) return value.subarray(left);
    left -= value.byteLength;
  }
  return null;
}

/**
 * Collects a file's chunks into one array. With a known length they are copied into one buffer of
 * that size as they arrive, so the file is held once, not once in chunks and again joined.
 */
export class ByteSink {
  private readonly buffer: Uint8Array | null;
  private readonly chunks: Uint8Array[] = [];
  private length = 0;
  constructor(expected: number | null) {
    this.buffer = expected !== null ? new Uint8Array(expected) : null;
  }
  add(chunk: Uint8Array): void {
    if (this.buffer && this.length + chunk.byteLength <= this.buffer.byteLength) this.buffer.set(chunk, this.length);
    else this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }
  bytes(): Uint8Array {
    if (this.buffer && this.chunks.length === 0 && this.length === this.buffer.byteLength) return this.buffer;
    if (this.buffer) return concatArrays(Uint8Array, [this.buffer.subarray(0, Math.min(this.length, this.buffer.byteLength)), ...this.chunks]);
    return this.chunks.length === 1 ? this.chunks[0]! : concatArrays(Uint8Array, this.chunks);
  }
}

/** Every remaining chunk of a transfer in one array. */
export async function readAllBytes(reader: DownloadReader): Promise<Uint8Array> {
  const sink = new ByteSink(reader.total);
  for (let chunk = await reader.read(); chunk; chunk = await reader.read()) sink.add(chunk);
  return sink.bytes();
}

export async function download(url: string, options: DownloadOptions = {}): Promise<Downloaded> {
  const reader = await openDownload(url, options);
  const bytes = await readAllBytes(reader);
  return { bytes, finalUrl: reader.finalUrl, etag: reader.etag, commit: reader.commit, resumes: reader.resumes };
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
