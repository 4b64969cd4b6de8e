import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { measuringStream, MemoryBlobStore, QuotaError, type PendingFileMeta } from './store';

const pending = (key: string): PendingFileMeta => ({ key, sourceUrl: key, repo: 'a/b', revision: 'main', commit: null, path: 'm.onnx' });
const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 9)) & 255);

/** A stream of `data` in pieces of `step` bytes, that errors after `failAfter` pieces when given. */
function streamOf(data: Uint8Array, step: number, failAfter?: number): ReadableStream<Uint8Array> {
  let at = 0;
  let pieces = 0;
  return new ReadableStream({
    pull(c) {
      if (failAfter !== undefined && pieces === failAfter) return c.error(new Error('connection reset'));
      if (at >= data.length) return c.close();
      c.enqueue(data.slice(at, at + step));
      at += step;
      pieces++;
    },
  });
}

describe('measuringStream', () => {
  it('passes the bytes through unchanged and measures them', async () => {
    const data = bytes(70_001);
    const m = measuringStream(streamOf(data, 4096));
    const out = new Uint8Array(await new Response(m.stream).arrayBuffer());
    expect(out).toEqual(data);
    expect(m.result()).toEqual({ size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  });
});

describe('MemoryBlobStore.putStream', () => {
  it('stores a streamed file with its size and SHA-256', async () => {
    const store = new MemoryBlobStore();
    const data = bytes(123_457);
    const meta = await store.putStream(pending('k1'), streamOf(data, 10_000));
    expect(meta).toMatchObject({ key: 'k1', size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    expect(Date.parse(meta.savedAt)).not.toBeNaN();
    expect((await store.get('k1'))?.bytes).toEqual(data);
    expect(await store.has('k1')).toEqual(meta);
  });

  it('keeps nothing of a stream that breaks, not even an older copy under the key', async () => {
    const store = new MemoryBlobStore();
    await store.putStream(pending('k1'), streamOf(bytes(5000), 1000));
    await expect(store.putStream(pending('k1'), streamOf(bytes(50_000), 1000, 3))).rejects.toThrow('connection reset');
    expect(await store.list()).toEqual([]);
    expect(await store.get('k1')).toBeNull();
  });

  it('stops at the quota with a quota error and keeps nothing', async () => {
    const store = new MemoryBlobStore(10_000);
    const err = await store.putStream(pending('k1'), streamOf(bytes(50_000), 1000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuotaError);
    expect(await store.list()).toEqual([]);
  });
});
