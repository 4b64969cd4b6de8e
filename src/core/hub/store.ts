// Where downloaded model files live. The browser implementation is the Cache API (works in
// workers, survives reloads, and `navigator.storage.persist()` protects it from eviction); tests use
// the in-memory one. Each file carries its metadata, so listing needs no second database.

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

export interface BlobStore {
  get(key: string): Promise<{ meta: StoredFileMeta; bytes: Uint8Array } | null>;
  has(key: string): Promise<StoredFileMeta | null>;
  put(meta: StoredFileMeta, bytes: Uint8Array): Promise<void>;
  delete(key: string): Promise<boolean>;
  list(): Promise<StoredFileMeta[]>;
}

export class QuotaError extends Error {
  override readonly name = 'QuotaError';
}

export function isQuotaError(err: unknown): boolean {
  return err instanceof DOMException ? err.name === 'QuotaExceededError' : err instanceof QuotaError;
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
  async delete(key: string) {
    return this.files.delete(key);
  }
  async list() {
    return [...this.files.values()].map((f) => f.meta);
  }
}

const META_HEADER = 'x-dede-meta';

/** Cache API store (browser main thread and workers). */
export class CacheApiBlobStore implements BlobStore {
  constructor(private readonly cacheName = 'dede-models-v1') {}

  private open(): Promise<Cache> {
    return caches.open(this.cacheName);
  }
  private static request(key: string): Request {
    // Keys are URLs; the cache only needs them to be unique and well-formed.
    return new Request(key);
  }
  private static meta(response: Response): StoredFileMeta | null {
    const raw = response.headers.get(META_HEADER);
    if (!raw) return null;
    try {
      return JSON.parse(decodeURIComponent(raw)) as StoredFileMeta;
    } catch {
      return null;
    }
  }

  async get(key: string) {
    const response = await (await this.open()).match(CacheApiBlobStore.request(key));
    const meta = response ? CacheApiBlobStore.meta(response) : null;
    if (!response || !meta) return null;
    return { meta, bytes: new Uint8Array(await response.arrayBuffer()) };
  }
  async has(key: string) {
    const response = await (await this.open()).match(CacheApiBlobStore.request(key));
    return response ? CacheApiBlobStore.meta(response) : null;
  }
  async put(meta: StoredFileMeta, bytes: Uint8Array) {
    const response = new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(bytes.byteLength),
        [META_HEADER]: encodeURIComponent(JSON.stringify(meta)),
      },
    });
    await (await this.open()).put(CacheApiBlobStore.request(meta.key), response);
  }
  async delete(key: string) {
    return (await this.open()).delete(CacheApiBlobStore.request(key));
  }
  async list() {
    const cache = await this.open();
    const out: StoredFileMeta[] = [];
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      const meta = response ? CacheApiBlobStore.meta(response) : null;
      if (meta) out.push(meta);
    }
    return out;
  }
}
