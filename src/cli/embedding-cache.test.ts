import { appendFile, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbeddingCache, embeddingCacheDir } from './embedding-cache';

const sha = (i: number) => i.toString(16).padStart(64, '0');
const row = (i: number, dim = 5) => Float32Array.from({ length: dim }, (_, j) => Math.sin(i * 7 + j) * 10 ** (j - 2));
const KEY = { encoder: 'a'.repeat(64), readout: 'pooler_output', preprocessing: 'resize 224' };

describe('EmbeddingCache', () => {
  it('keeps embeddings across runs, bit for bit, appending only what is new', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dede-emb-'));
    const first = await EmbeddingCache.open(dir, KEY);
    expect(first.size).toBe(0);
    for (let i = 0; i < 3; i++) first.put(sha(i), row(i));
    expect(await first.flush()).toBeNull();
    const [file] = await readdir(dir);
    const sizeAfterFirst = (await stat(join(dir, file!))).size;

    const second = await EmbeddingCache.open(dir, KEY);
    expect(second.size).toBe(3);
    expect(second.dim).toBe(5);
    for (let i = 0; i < 3; i++) expect(second.get(sha(i))).toEqual(row(i));
    second.put(sha(1), row(1)); // already there: not written twice
    second.put(sha(7), row(7));
    await second.flush();
    expect((await stat(join(dir, file!))).size).toBe(sizeAfterFirst + 32 + 5 * 4);
    const third = await EmbeddingCache.open(dir, KEY);
    expect([...[0, 1, 2, 7].map((i) => third.get(sha(i)))]).toEqual([0, 1, 2, 7].map((i) => row(i)));
  });

  it('keeps each encoder setting apart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dede-emb-'));
    const a = await EmbeddingCache.open(dir, KEY);
    a.put(sha(1), row(1));
    await a.flush();
    const b = await EmbeddingCache.open(dir, { ...KEY, readout: 'last_hidden_state:cls' });
    expect(b.get(sha(1))).toBeUndefined();
  });

  it('survives a record cut short by a crash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dede-emb-'));
    const a = await EmbeddingCache.open(dir, KEY);
    a.put(sha(1), row(1));
    await a.flush();
    const [file] = await readdir(dir);
    await appendFile(join(dir, file!), new Uint8Array(17)); // half a record
    const b = await EmbeddingCache.open(dir, KEY);
    expect(b.size).toBe(1);
    b.put(sha(2), row(2));
    await b.flush();
    const c = await EmbeddingCache.open(dir, KEY);
    expect(c.get(sha(1))).toEqual(row(1));
    expect(c.get(sha(2))).toEqual(row(2));
  });

  it('refuses a wrong-sized embedding, ignores a foreign file, and can be turned off', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dede-emb-'));
    const a = await EmbeddingCache.open(dir, KEY);
    a.put(sha(1), row(1));
    expect(() => a.put(sha(2), row(2, 6))).toThrow(/6-value embedding among 5-value/);
    await a.flush();
    const [file] = await readdir(dir);
    await writeFile(join(dir, file!), 'not a cache at all');
    expect((await EmbeddingCache.open(dir, KEY)).size).toBe(0);
    expect(embeddingCacheDir({ DEDE_CACHE_DIR: 'off' })).toBeNull();
    expect(embeddingCacheDir({ DEDE_CACHE_DIR: '/x' })).toBe('/x/embeddings');
    expect(embeddingCacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/dede/embeddings');
    const off = EmbeddingCache.disabled();
    off.put(sha(1), row(1));
    expect(await off.flush()).toBeNull();
    expect(await readFile(join(dir, file!), 'utf8')).toBe('not a cache at all');
  });
});
