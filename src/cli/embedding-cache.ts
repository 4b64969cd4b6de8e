// Encoder embeddings kept on disk between CLI runs, one append-only file per encoder setting (the
// encoder's SHA-256, how its output is read, how images are preprocessed), one record per image
// keyed by the SHA-256 of the image file's bytes. At 224 px the encoder is the slow part, so
// `train`, `calibrate` and `scan` over the same photos embed each of them once; a renamed or moved
// file is still found, and an edited one is embedded again.
//
// File: "DEDEEMB1", uint32 dim, uint32 key length, the key (UTF-8 JSON), then records of
// [32-byte SHA-256][dim float32], little-endian. A record cut short by a crash is ignored.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { errorText } from '../core/runtime/error-text';

const MAGIC = 'DEDEEMB1';
const SHA_BYTES = 32;

/** Where the cache lives: DEDE_CACHE_DIR, else $XDG_CACHE_HOME/dede, else ~/.cache/dede; "off" disables it. */
export function embeddingCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const given = env['DEDE_CACHE_DIR'];
  if (given === 'off') return null;
  if (given) return join(given, 'embeddings');
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'dede', 'embeddings');
}

export class EmbeddingCache {
  private readonly rows = new Map<string, Float32Array>();
  private pending: { sha: string; row: Float32Array }[] = [];

  private constructor(
    private readonly path: string | null,
    private readonly key: string,
    private dimension: number | null,
  ) {}

  /** A cache that remembers nothing (DEDE_CACHE_DIR=off). */
  static disabled(): EmbeddingCache {
    return new EmbeddingCache(null, '', null);
  }

  /** Opens (or starts) the cache of one encoder setting; `key` must name everything the embeddings depend on. */
  static async open(dir: string | null, key: Readonly<Record<string, unknown>>): Promise<EmbeddingCache> {
    if (dir === null) return EmbeddingCache.disabled();
    const keyText = JSON.stringify(key);
    const path = join(dir, `${createHash('sha256').update(keyText).digest('hex')}.emb`);
    const cache = new EmbeddingCache(path, keyText, null);
    const bytes = await readFile(path).catch(() => null);
    if (bytes) cache.load(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return cache;
  }

  get dim(): number | null {
    return this.dimension;
  }

  get size(): number {
    return this.rows.size;
  }

  get(fileSha256: string): Float32Array | undefined {
    return this.rows.get(fileSha256);
  }

  /** Remembers an embedding; written by flush(). */
  put(fileSha256: string, row: Float32Array): void {
    if (!/^[0-9a-f]{64}$/.test(fileSha256)) throw new Error(`embedding cache: not a SHA-256: ${fileSha256}`);
    if (this.dimension !== null && row.length !== this.dimension) throw new Error(`embedding cache: a ${row.length}-value embedding among ${this.dimension}-value ones`);
    this.dimension = row.length;
    if (this.rows.has(fileSha256)) return;
    const copy = row.slice();
    this.rows.set(fileSha256, copy);
    this.pending.push({ sha: fileSha256, row: copy });
  }

  /** Appends what was added since the last flush. A cache that cannot be written is a note, not a failure. */
  async flush(): Promise<string | null> {
    if (this.path === null || this.pending.length === 0 || this.dimension === null) return null;
    const dim = this.dimension;
    const record = SHA_BYTES + dim * 4;
    const body = new Uint8Array(this.pending.length * record);
    const view = new DataView(body.buffer);
    this.pending.forEach(({ sha, row }, i) => {
      body.set(Buffer.from(sha, 'hex'), i * record);
      row.forEach((v, j) => view.setFloat32(i * record + SHA_BYTES + j * 4, v, true));
    });
    try {
      await mkdir(join(this.path, '..'), { recursive: true });
      const header = this.header(dim);
      const size = (await stat(this.path).catch(() => null))?.size ?? null;
      if (size === null || size < header.length) await writeFile(this.path, header);
      // A record cut short by a crash would shift every later one: cut it off before appending.
      else if ((size - header.length) % record !== 0) await truncate(this.path, size - ((size - header.length) % record));
      await appendFile(this.path, body);
      this.pending = [];
      return null;
    } catch (err) {
      return `could not save embeddings to ${this.path} (${errorText(err)}); they will be computed again next time`;
    }
  }

  private header(dim: number): Uint8Array {
    const key = new TextEncoder().encode(this.key);
    const out = new Uint8Array(MAGIC.length + 8 + key.length);
    out.set(new TextEncoder().encode(MAGIC));
    const view = new DataView(out.buffer);
    view.setUint32(MAGIC.length, dim, true);
    view.setUint32(MAGIC.length + 4, key.length, true);
    out.set(key, MAGIC.length + 8);
    return out;
  }

  private load(bytes: Uint8Array): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < MAGIC.length + 8 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) return;
    const dim = view.getUint32(MAGIC.length, true);
    const keyLength = view.getUint32(MAGIC.length + 4, true);
    const start = MAGIC.length + 8 + keyLength;
    // A file of another setting under this name (a hash collision, or a hand copy) is not ours.
    if (dim === 0 || start > bytes.length || new TextDecoder().decode(bytes.subarray(MAGIC.length + 8, start)) !== this.key) return;
    this.dimension = dim;
    const record = SHA_BYTES + dim * 4;
    for (let at = start; at + record <= bytes.length; at += record) {
      const sha = Buffer.from(bytes.subarray(at, at + SHA_BYTES)).toString('hex');
      const row = new Float32Array(dim);
      for (let j = 0; j < dim; j++) row[j] = view.getFloat32(at + SHA_BYTES + j * 4, true);
      this.rows.set(sha, row);
    }
  }
}
