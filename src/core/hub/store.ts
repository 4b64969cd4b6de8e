// Where downloaded model files live. The browser implementation is the Cache API (works in
// workers, survives reloads, and `navigator.storage.persist()` protects it from eviction); tests use
// the in-memory one. Large files are written as they arrive (putStream), with their size and
// SHA-256 measured on the way, so a model is never held whole in memory just to be stored.
import { Sha256 } from './sha256';

export interface StoredFileMeta {
  /** Cache key: the download URL with the revision resolved to a commit where known. */
  readonly key: string;
  /** Where it came from, for display and re-download. */
  readonly sourceUrl: string;
  readonly repo: string | null;
  /** The revision the user asked for (e.g. "main"), and the commit it resolved to. */
  readonly revision: string | null;
  readonly commit: string | null;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly savedAt: string;
}

/** What is known of a file before its bytes have passed: everything but its size and hash. */
export type PendingFileMeta = Omit<StoredFileMeta, 'size' | 'sha256' | 'savedAt'>;

export interface BlobStore {
  get(key: string): Promise<{ meta: StoredFileMeta; bytes: Uint8Array } | null>;
  has(key: string): Promise<StoredFileMeta | null>;
  put(meta: StoredFileMeta, bytes: Uint8Array): Promise<void>;
  /**
   * Stores a file as its bytes arrive, measuring size and SHA-256 on the way; resolves with the
   * complete metadata once the stream ends. When the stream errors or is cancelled, or storing
   * fails, nothing of the file stays stored and the promise rejects.
   */
  putStream(meta: PendingFileMeta, body: ReadableStream<Uint8Array>): Promise<StoredFileMeta>;
  delete(key: string): Promise<boolean>;
  list(): Promise<StoredFileMeta[]>;
}

export class QuotaError extends Error {
  override readonly name = 'QuotaError';
}

export function isQuotaError(err: unknown): boolean {
  return err instanceof DOMException ? err.name === 'QuotaExceededError' : err instanceof QuotaError;
}

/** Passes a stream through unchanged while counting and hashing its bytes. */
export function measuringStream(body: ReadableStream<Uint8Array>): { stream: ReadableStream<Uint8Array>; result(): { size: number; sha256: string } } {
  const hash = new Sha256();
  let size = 0;
  const stream = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        size += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  return { stream, result: () => ({ size, sha256: hash.hex() }) };
}

export class MemoryBlobStore implements BlobStore {
  private readonly files = new Map<string, { meta: StoredFileMeta; bytes: Uint8Array }>();
  constructor(private readonly quotaBytes = Infinity) {}

  async get(key: string) {
    const f = this.files.get(key);
    return f ? { meta: f.meta, bytes: f.bytes.slice() } : null;
  }
  async has(key: string) {
    return this.files.get(key)?.meta ?? null;
  }
  async put(meta: StoredFileMeta, bytes: Uint8Array) {
    const used = [...this.files.values()].reduce((a, f) => a + f.bytes.byteLength, 0);
    if (used + bytes.byteLength > this.quotaBytes) throw new QuotaError('Storage quota exceeded.');
    this.files.set(meta.key, { meta, bytes: bytes.slice() });
  }
  async putStream(pending: PendingFileMeta, body: ReadableStream<Uint8Array>) {
    const used = [...this.files.entries()].reduce((a, [k, f]) => a + (k === pending.key ? 0 : f.bytes.byteLength), 0);
    const measured = measuringStream(body);
    const reader = measured.stream.getReader();
    const chunks: Uint8Array[] = [];
    let length = 0;
    this.files.delete(pending.key);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.byteLength;
      if (used + length > this.quotaBytes) {
        await reader.cancel(new QuotaError('Storage quota exceeded.'));
        throw new QuotaError('Storage quota exceeded.');
      }
      chunks.push(value.slice());
    }
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    const meta: StoredFileMeta = { ...pending, ...measured.result(), savedAt: new Date().toISOString() };
    this.files.set(meta.key, { meta, bytes });
    return meta;
  }
  async delete(key: string) {
    return this.files.delete(key);
  }
  async list() {
    return [...this.files.values()].map((f) => f.meta);
  }
}

// Files written before metadata moved to its own cache carry it in this header.
const META_HEADER = 'x-dede-meta';

/**
 * Cache API store (browser main thread and workers). Bytes and metadata live in two caches under
 * the same key: the metadata (size, SHA-256) is only known once the bytes have streamed in, and a
 * response's headers cannot change after it is stored. A file counts as stored when both exist;
 * the metadata is written last.
 */
export class CacheApiBlobStore implements BlobStore {
  constructor(private readonly cacheName = 'dede-models-v1') {}

  private open(): Promise<Cache> {
    return caches.open(this.cacheName);
  }
  private openMeta(): Promise<Cache> {
    return caches.open(`${this.cacheName}-meta`);
  }
  private static request(key: string): Request {
    // Keys are URLs; the cache only needs them to be unique and well-formed.
    return new Request(key);
  }
  private static headerMeta(response: Response): StoredFileMeta | null {
    const raw = response.headers.get(META_HEADER);
    if (!raw) return null;
    try {
      return JSON.parse(decodeURIComponent(raw)) as StoredFileMeta;
    } catch {
      return null;
    }
  }
  private async metaOf(key: string, body: Response | undefined): Promise<StoredFileMeta | null> {
    if (!body) return null;
    const stored = await (await this.openMeta()).match(CacheApiBlobStore.request(key));
    if (stored) {
      try {
        return (await stored.json()) as StoredFileMeta;
      } catch {
        return null;
      }
    }
    return CacheApiBlobStore.headerMeta(body);
  }
  private async writeMeta(meta: StoredFileMeta): Promise<void> {
    const response = new Response(JSON.stringify(meta), { headers: { 'content-type': 'application/json' } });
    await (await this.openMeta()).put(CacheApiBlobStore.request(meta.key), response);
  }

  async get(key: string) {
    const response = await (await this.open()).match(CacheApiBlobStore.request(key));
    const meta = await this.metaOf(key, response);
    if (!response || !meta) return null;
    return { meta, bytes: new Uint8Array(await response.arrayBuffer()) };
  }
  async has(key: string) {
    return this.metaOf(key, await (await this.open()).match(CacheApiBlobStore.request(key)));
  }
  async put(meta: StoredFileMeta, bytes: Uint8Array) {
    await (await this.openMeta()).delete(CacheApiBlobStore.request(meta.key));
    const response = new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) },
    });
    try {
      await (await this.open()).put(CacheApiBlobStore.request(meta.key), response);
      await this.writeMeta(meta);
    } catch (err) {
      await this.delete(meta.key).catch(() => undefined);
      throw err;
    }
  }
  async putStream(pending: PendingFileMeta, body: ReadableStream<Uint8Array>) {
    await (await this.openMeta()).delete(CacheApiBlobStore.request(pending.key));
    const measured = measuringStream(body);
    try {
      // The cache reads the stream as it writes (no length needed), so bytes go to disk as they come.
      await (await this.open()).put(CacheApiBlobStore.request(pending.key), new Response(measured.stream, { headers: { 'content-type': 'application/octet-stream' } }));
      const meta: StoredFileMeta = { ...pending, ...measured.result(), savedAt: new Date().toISOString() };
      await this.writeMeta(meta);
      return meta;
    } catch (err) {
      // A failed put stores nothing, but an older copy under the same key must go too: its
      // metadata is already gone.
      await this.delete(pending.key).catch(() => undefined);
      throw err;
    }
  }
  async delete(key: string) {
    const request = CacheApiBlobStore.request(key);
    const [body, meta] = await Promise.all([(await this.open()).delete(request), (await this.openMeta()).delete(request)]);
    return body || meta;
  }
  async list() {
    const cache = await this.open();
    const out: StoredFileMeta[] = [];
    for (const request of await cache.keys()) {
      const meta = await this.metaOf(request.url, await cache.match(request));
      if (meta) out.push(meta);
    }
    return out;
  }
}
