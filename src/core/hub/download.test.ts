import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../runtime/cancel';
import { download, DownloadError, openDownload, formatBytes, sha256Hex, type DownloadProgress } from './download';

const FILE = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >> 8)) & 255);
let server: Server;
let base = '';
const seenRanges: string[] = [];
/** Requests seen by the redirect target ("CDN"), with their Range and If-Range headers. */
const cdnSeen: { path: string; range: string | null; ifRange: string | null }[] = [];
let changedOnce = false;

beforeAll(async () => {
  let brokenOnce = new Set<string>();
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const range = req.headers['range'];
    if (url.pathname.startsWith('/flaky')) seenRanges.push(String(range ?? ''));
    if (url.pathname === '/401') return void res.writeHead(401).end();
    if (url.pathname === '/404') return void res.writeHead(404, 'Not Found').end();
    // The hub's way with large files: a redirect carrying the commit and the file's ETag, then the
    // bytes from another path that only knows its own ETag.
    if (url.pathname.startsWith('/resolve/')) {
      return void res.writeHead(302, { location: `/cdn/${url.pathname.slice('/resolve/'.length)}`, 'x-repo-commit': 'abc123', 'x-linked-etag': '"sha-v1"', etag: '"pointer"' }).end();
    }
    if (url.pathname.startsWith('/cdn/')) {
      cdnSeen.push({ path: url.pathname, range: (range as string | undefined) ?? null, ifRange: (req.headers['if-range'] as string | undefined) ?? null });
    }
    // A file that changes between the first request and the resume.
    if (url.pathname === '/changing') {
      const version = changedOnce ? '"v2"' : '"v1"';
      const ifRange = req.headers['if-range'];
      const start = typeof range === 'string' && ifRange === version ? Number(/bytes=(\d+)-/.exec(range)?.[1] ?? 0) : 0;
      res.writeHead(start > 0 ? 206 : 200, { etag: version, 'content-length': String(FILE.length - start) });
      if (!changedOnce) {
        changedOnce = true;
        return void res.write(Buffer.from(FILE.subarray(0, 100_000)), () => res.socket?.destroy());
      }
      return void res.end(Buffer.from(FILE.subarray(start)));
    }
    const etag = url.pathname.startsWith('/cdn/') ? '"sha-v1"' : '"v1"';
    let start = 0;
    const ignoreRange = url.pathname === '/flaky-norange';
    if (typeof range === 'string' && !ignoreRange) start = Number(/bytes=(\d+)-/.exec(range)?.[1] ?? 0);
    const body = FILE.subarray(start);
    const headers: Record<string, string> = { etag, 'content-length': String(body.length), 'x-repo-commit': 'abc123' };
    if (start > 0) headers['content-range'] = `bytes ${start}-${FILE.length - 1}/${FILE.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    const breakFile = (url.pathname.startsWith('/flaky') || url.pathname.startsWith('/cdn/flaky')) && !brokenOnce.has(url.pathname) && start === 0;
    if (breakFile) {
      brokenOnce.add(url.pathname);
      // Send part of the file, then drop the connection.
      res.write(Buffer.from(body.subarray(0, 100_000)), () => res.socket?.destroy());
      return;
    }
    res.end(Buffer.from(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  brokenOnce = new Set();
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('download', () => {
  it('downloads with progress, ETag and the hub commit', async () => {
    const progress: DownloadProgress[] = [];
    const got = await download(`${base}/file.onnx`, { onProgress: (p) => progress.push(p) });
    expect(got.bytes).toEqual(FILE);
    expect(got).toMatchObject({ etag: '"v1"', commit: 'abc123', resumes: 0 });
    expect(progress.at(-1)).toMatchObject({ loaded: FILE.length, total: FILE.length });
    expect(progress.every((p, i) => i === 0 || p.loaded >= progress[i - 1]!.loaded)).toBe(true);
  });

  it('resumes a broken connection with a Range request and gets identical bytes', async () => {
    seenRanges.length = 0;
    const got = await download(`${base}/flaky.onnx`);
    expect(got.resumes).toBe(1);
    expect(seenRanges[0]).toBe('');
    expect(seenRanges[1]).toMatch(/^bytes=\d+-$/);
    expect(Number(/bytes=(\d+)-/.exec(seenRanges[1]!)![1])).toBeGreaterThan(0);
    expect(got.bytes).toEqual(FILE);
  });

  it('skips the bytes it already has when the server ignores the range', async () => {
    const got = await download(`${base}/flaky-norange`);
    expect(got.resumes).toBe(1);
    expect(got.bytes).toEqual(FILE);
  });

  it('follows the redirect to the bytes and resumes through it with the final ETag', async () => {
    cdnSeen.length = 0;
    const got = await download(`${base}/resolve/flaky-big.onnx`);
    expect(got.bytes).toEqual(FILE);
    expect(got.resumes).toBe(1);
    expect(got.finalUrl).toBe(`${base}/cdn/flaky-big.onnx`);
    // The resume asks the original URL again; the redirect carries the Range and If-Range along.
    expect(cdnSeen).toHaveLength(2);
    expect(cdnSeen[0]).toEqual({ path: '/cdn/flaky-big.onnx', range: null, ifRange: null });
    expect(cdnSeen[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(cdnSeen[1]!.ifRange).toBe('"sha-v1"');
  });

  it('refuses to stitch together a file that changed during the download', async () => {
    await expect(download(`${base}/changing`)).rejects.toMatchObject({ kind: 'http', message: expect.stringMatching(/changed.*try again/) });
  });

  it('reads a transfer chunk by chunk, resuming inside the one sequence', async () => {
    const reader = await openDownload(`${base}/flaky-chunks.onnx`);
    expect(reader.total).toBe(FILE.length);
    const parts: Uint8Array[] = [];
    for (let c = await reader.read(); c; c = await reader.read()) parts.push(c);
    expect(reader.resumes).toBe(1);
    expect(reader.loaded).toBe(FILE.length);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(FILE));
    expect(await reader.read()).toBeNull();
  });

  it('explains 401 and 404 in plain words', async () => {
    await expect(download(`${base}/401`)).rejects.toMatchObject({ kind: 'unauthorized', status: 401, message: expect.stringMatching(/gated or private.*access token/) });
    await expect(download(`${base}/404`)).rejects.toMatchObject({ kind: 'not-found', message: expect.stringMatching(/HTTP 404.*repo name/) });
  });

  it('reports an unreachable host as a network error', async () => {
    const err = await download('http://127.0.0.1:1/x.onnx').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err).toMatchObject({ kind: 'network', message: expect.stringMatching(/offline|CORS/) });
  });

  it('can be cancelled', async () => {
    const controller = new AbortController();
    const p = download(`${base}/file.onnx`, { signal: controller.signal, onProgress: () => controller.abort() });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(err).not.toBeInstanceOf(DownloadError);
    expect(err).toMatchObject({ name: 'CancelledError', message: 'Download cancelled.' });
  });

  it('refuses files above the size limit before reading them', async () => {
    await expect(download(`${base}/file.onnx`, { maxBytes: 1000 })).rejects.toMatchObject({ kind: 'too-large' });
  });
});

describe('helpers', () => {
  it('hashes like Node crypto', async () => {
    expect(await sha256Hex(FILE)).toBe(createHash('sha256').update(FILE).digest('hex'));
  });
  it('formats sizes', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(26_781_914)).toBe('26.8 MB');
  });
});
