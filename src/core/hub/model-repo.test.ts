import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CancelledError } from '../runtime/cancel';
import { DownloadError } from './download';
import { cacheModelFile, fetchModelFile, fetchNearestJson, listOnnxFiles, listRepoFiles, type HubAccess } from './model-repo';
import { MemoryBlobStore, type PendingFileMeta, type StoredFileMeta } from './store';
import { createHash } from 'node:crypto';

// A local server with the hub's URL layout: /api/models/<repo>/revision/<rev> and
// /<repo>/resolve/<rev>/<path>.
const COMMIT = 'a'.repeat(40);
const MODEL = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
let server: Server;
/** Lets the paused transfer of held.onnx go on. */
let release: () => void = () => undefined;
let held: Promise<void> = Promise.resolve();
let endpoint = '';
const fileRequests: string[] = [];
const authSeen: (string | undefined)[] = [];
const apiQueries: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    authSeen.push(req.headers['authorization']);
    if (path.startsWith('/api/')) apiQueries.push(new URL(req.url ?? '/', 'http://x').search);
    const authorised = req.headers['authorization'] === 'Bearer hf_ok';
    if (path.startsWith('/api/models/acme/gated')) {
      if (!authorised) return void res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ sha: COMMIT, siblings: [] }));
    }
    if (path.startsWith('/acme/gated/')) return void res.writeHead(authorised ? 404 : 401).end();
    if (path.startsWith('/api/models/acme/noapi')) return void res.writeHead(404).end();
    if (path === '/acme/noapi/resolve/main/m.onnx') {
      res.writeHead(200);
      return void res.end(Buffer.from(MODEL));
    }
    if (path.startsWith('/api/models/acme/clip')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({
        sha: COMMIT,
        siblings: [
          { rfilename: 'config.json', size: 40 },
          { rfilename: 'onnx/text_model.onnx', size: 254_000_000, lfs: { size: 254_000_000, sha256: 'ab', pointerSize: 135 } },
          { rfilename: 'onnx/vision_model.onnx', lfs: { size: 351_000_000 } },
          { rfilename: 'onnx/vision_model_fp16.onnx' },
        ],
      }));
    }
    if (path === `/acme/clip/resolve/${COMMIT}/config.json`) {
      fileRequests.push(path);
      return void res.writeHead(200).end(JSON.stringify({ model_type: 'siglip' }));
    }
    // transformers.js layout: configs at the root, the model under onnx/.
    if (path.startsWith('/api/models/acme/tjs')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ sha: COMMIT, siblings: [{ rfilename: 'config.json' }, { rfilename: 'preprocessor_config.json' }, { rfilename: 'onnx/model.onnx' }] }));
    }
    const tjs = /^\/(?:acme\/tjs\/resolve\/[^/]+|plain\/tjs)\/(.+)$/.exec(path);
    if (tjs) {
      fileRequests.push(path);
      if (tjs[1] === 'preprocessor_config.json') return void res.writeHead(200).end(JSON.stringify({ image_mean: [0.1, 0.2, 0.3] }));
      if (tjs[1] === 'config.json') return void res.writeHead(200).end('{ not json');
      return void res.writeHead(404).end();
    }
    const api = /^\/api\/models\/acme\/enc(?:\/revision\/(.+))?$/.exec(path);
    if (api) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ sha: COMMIT, siblings: [{ rfilename: 'README.md' }, { rfilename: 'onnx/model.onnx', size: 5000 }, { rfilename: 'model.onnx' }] }));
    }
    const file = /^\/acme\/enc\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (file) {
      fileRequests.push(path);
      if (file[2] === 'onnx/model.onnx' || file[2] === 'model.onnx') {
        res.writeHead(200, { 'content-length': String(MODEL.length), 'x-repo-commit': COMMIT });
        return void res.end(Buffer.from(MODEL));
      }
      if (file[2] === 'broken.onnx') {
        // Always breaks half-way, resumes included: the download fails for good.
        const start = Number(/bytes=(\d+)-/.exec(String(req.headers['range'] ?? ''))?.[1] ?? 0);
        res.writeHead(start > 0 ? 206 : 200, { 'content-length': String(MODEL.length - start), etag: '"b"' });
        return void res.write(Buffer.from(MODEL.subarray(start, start + 1000)), () => res.socket?.destroy());
      }
      if (file[2] === 'held.onnx') {
        res.writeHead(200, { 'content-length': String(MODEL.length) });
        res.write(Buffer.from(MODEL.subarray(0, 2000)));
        return void held.then(() => res.end(Buffer.from(MODEL.subarray(2000))));
      }
      if (file[2] === 'onnx/preprocessor_config.json') {
        res.writeHead(200);
        return void res.end(JSON.stringify({ image_mean: [0.5, 0.5, 0.5] }));
      }
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  fileRequests.length = 0;
  authSeen.length = 0;
});

const source = { kind: 'hub-file', repo: 'acme/enc', revision: 'main', path: 'onnx/model.onnx' } as const;

describe('hub model repository', () => {
  it('lists only .onnx files with the resolved commit', async () => {
    const listing = await listOnnxFiles({ endpoint, store: new MemoryBlobStore() }, 'acme/enc', null);
    expect(listing).toMatchObject({
      repo: 'acme/enc', revision: 'main', commit: COMMIT,
      onnxFiles: [{ path: 'model.onnx', size: null }, { path: 'onnx/model.onnx', size: 5000 }],
    });
    expect(listing.layout.groups.map((g) => `${g.folder}/${g.component}`)).toEqual(['/model', 'onnx/model']);
    expect(apiQueries.at(-1)).toBe('?blobs=true');
  });

  it('downloads once, then serves the cache keyed by the resolved commit', async () => {
    const access: HubAccess = { endpoint, store: new MemoryBlobStore() };
    const first = await fetchModelFile(access, source);
    expect(first.fromCache).toBe(false);
    expect(first.bytes).toEqual(MODEL);
    expect(first.meta).toMatchObject({ repo: 'acme/enc', revision: 'main', commit: COMMIT, size: 5000, key: `${endpoint}/acme/enc/resolve/${COMMIT}/onnx/model.onnx` });
    expect(first.meta.sha256).toMatch(/^[0-9a-f]{64}$/);
    const second = await fetchModelFile(access, source);
    expect(second.fromCache).toBe(true);
    expect(second.bytes).toEqual(MODEL);
    expect(fileRequests).toEqual([`/acme/enc/resolve/${COMMIT}/onnx/model.onnx`]);
  });

  it('uses the cached copy when the hub is unreachable', async () => {
    const store = new MemoryBlobStore();
    await fetchModelFile({ endpoint, store }, source);
    const offline: typeof fetch = () => Promise.reject(new TypeError('Failed to fetch'));
    const got = await fetchModelFile({ endpoint, store, fetch: offline }, source);
    expect(got.fromCache).toBe(true);
    expect(got.offlineNotice).toMatch(/could not be reached/);
    await expect(fetchModelFile({ endpoint, store: new MemoryBlobStore(), fetch: offline }, source)).rejects.toMatchObject({ kind: 'network' });
  });

  it('lists the cached .onnx files of a repo when the hub is unreachable', async () => {
    const store = new MemoryBlobStore();
    await fetchModelFile({ endpoint, store }, source);
    const offline: typeof fetch = () => Promise.reject(new TypeError('Failed to fetch'));
    const listing = await listOnnxFiles({ endpoint, store, fetch: offline }, 'acme/enc', null);
    expect(listing).toMatchObject({ repo: 'acme/enc', revision: 'main', commit: COMMIT, onnxFiles: [{ path: 'onnx/model.onnx', size: 5000 }] });
    expect(listing.offlineNotice).toMatch(/could not be reached.*saved on this device/);
    // Another revision, or nothing cached: the network error stands.
    await expect(listOnnxFiles({ endpoint, store, fetch: offline }, 'acme/enc', 'v2')).rejects.toMatchObject({ kind: 'network' });
    await expect(listOnnxFiles({ endpoint, store: new MemoryBlobStore(), fetch: offline }, 'acme/enc', null)).rejects.toMatchObject({ kind: 'network' });
  });

  it('keeps a file usable when storage fills up mid-file, and says so', async () => {
    const store = new MemoryBlobStore(1000);
    const got = await fetchModelFile({ endpoint, store }, source);
    expect(got.bytes).toEqual(MODEL);
    expect(got.meta).toMatchObject({ size: MODEL.length, sha256: createHash('sha256').update(MODEL).digest('hex') });
    expect(got.storeError).toMatch(/storage is full/);
    expect(await store.list()).toEqual([]);
  });

  it('sends the token only when given and explains 401', async () => {
    const err = await fetchModelFile({ endpoint, store: new MemoryBlobStore() }, { ...source, repo: 'acme/gated' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err).toMatchObject({ kind: 'unauthorized' });
    expect(authSeen.every((a) => a === undefined)).toBe(true);
    await expect(fetchModelFile({ endpoint, token: 'hf_ok', store: new MemoryBlobStore() }, { ...source, repo: 'acme/gated' })).rejects.toMatchObject({ kind: 'not-found' });
    expect(authSeen.at(-1)).toBe('Bearer hf_ok');
  });

  it('works with a mirror that lacks the model API', async () => {
    const got = await fetchModelFile({ endpoint, store: new MemoryBlobStore() }, { ...source, repo: 'acme/noapi', path: 'm.onnx' });
    expect(got.bytes).toEqual(MODEL);
    expect(got.meta.commit).toBeNull();
  });

  it('fetches the preprocessor config beside the model, or says where it looked', async () => {
    const access: HubAccess = { endpoint, store: new MemoryBlobStore() };
    expect(await fetchNearestJson(access, source, 'preprocessor_config.json', null)).toEqual({
      found: { json: { image_mean: [0.5, 0.5, 0.5] }, location: { path: 'onnx/preprocessor_config.json', description: 'preprocessor_config.json beside the model' } },
      searched: ['onnx/preprocessor_config.json'],
    });
    expect(await fetchNearestJson(access, source, 'config.json', null)).toEqual({ found: null, searched: ['onnx/config.json', 'config.json'] });
  });

  it('finds root configs of the transformers.js layout from the listing, requesting no absent file', async () => {
    const access: HubAccess = { endpoint, store: new MemoryBlobStore() };
    const tjs = { kind: 'hub-file', repo: 'acme/tjs', revision: 'main', path: 'onnx/model.onnx' } as const;
    const files = await listRepoFiles(access, 'acme/tjs', 'main');
    const got = await fetchNearestJson(access, tjs, 'preprocessor_config.json', files);
    expect(got).toEqual({
      found: { json: { image_mean: [0.1, 0.2, 0.3] }, location: { path: 'preprocessor_config.json', description: 'preprocessor_config.json at the repo root' } },
      searched: ['onnx/preprocessor_config.json', 'preprocessor_config.json'],
    });
    expect(fileRequests).toEqual([`/acme/tjs/resolve/${COMMIT}/preprocessor_config.json`]);
    await expect(fetchNearestJson(access, tjs, 'config.json', files)).rejects.toThrow('config.json at the repo root (config.json) is not valid JSON.');
  });

  it('lists a repo with sizes from the blobs listing and its root config read for the layout', async () => {
    const access: HubAccess = { endpoint, store: new MemoryBlobStore() };
    const listing = await listOnnxFiles(access, 'acme/clip', 'main');
    expect(listing.onnxFiles).toHaveLength(3);
    expect(listing.onnxFiles).toEqual(expect.arrayContaining([
      { path: 'onnx/text_model.onnx', size: 254_000_000 },
      { path: 'onnx/vision_model.onnx', size: 351_000_000 },
      { path: 'onnx/vision_model_fp16.onnx', size: null },
    ]));
    expect(listing.layout.preselected?.path).toBe('onnx/vision_model.onnx');
    expect(listing.layout.preselected?.reason).toMatch(/^A SigLIP-style repo/);
    // The config was read at the listed commit, and is cached for the revision asked for.
    expect(fileRequests).toEqual([`/acme/clip/resolve/${COMMIT}/config.json`]);
    expect(await access.store.list()).toMatchObject([{ path: 'config.json', revision: 'main', commit: COMMIT }]);
  });

  it('walks up a plain link, stopping at the first hit', async () => {
    const access: HubAccess = { endpoint, store: new MemoryBlobStore() };
    const got = await fetchNearestJson(access, { kind: 'url', url: `${endpoint}/plain/tjs/onnx/model.onnx` }, 'preprocessor_config.json', null);
    expect(got.found).toEqual({ json: { image_mean: [0.1, 0.2, 0.3] }, location: { path: `${endpoint}/plain/tjs/preprocessor_config.json`, description: 'preprocessor_config.json one folder above the model' } });
    expect(fileRequests).toEqual(['/plain/tjs/onnx/preprocessor_config.json', '/plain/tjs/preprocessor_config.json']);
    fileRequests.length = 0;
    const none = await fetchNearestJson(access, { kind: 'url', url: `${endpoint}/plain/tjs/a/b/c/model.onnx` }, 'preprocessor_config.json', null);
    expect(none.found).toBeNull();
    expect(none.searched).toHaveLength(3);
    expect(fileRequests).toHaveLength(3);
  });

  it('streams the file into the store as it arrives, measuring size and SHA-256 on the way', async () => {
    held = new Promise((r) => (release = r));
    // A store that counts what it has received while the server still holds back the rest.
    const inner = new MemoryBlobStore();
    let received = 0;
    const store = Object.assign(Object.create(inner) as MemoryBlobStore, {
      putStream: (meta: PendingFileMeta, body: ReadableStream<Uint8Array>): Promise<StoredFileMeta> =>
        inner.putStream(meta, body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, c) {
            received += chunk.byteLength;
            if (received >= 2000) release();
            c.enqueue(chunk);
          },
        }))),
    });
    const got = await fetchModelFile({ endpoint, store }, { ...source, path: 'held.onnx' });
    expect(got.bytes).toEqual(MODEL);
    expect(got.meta).toMatchObject({ size: MODEL.length, sha256: createHash('sha256').update(MODEL).digest('hex') });
    expect((await inner.get(got.meta.key))?.bytes).toEqual(MODEL);
  });

  it('leaves nothing in the store when the download breaks for good or is cancelled', async () => {
    const store = new MemoryBlobStore();
    await expect(fetchModelFile({ endpoint, store }, { ...source, path: 'broken.onnx' })).rejects.toMatchObject({ kind: 'network' });
    expect(await store.list()).toEqual([]);
    held = new Promise(() => undefined); // never released
    const controller = new AbortController();
    const p = fetchModelFile({ endpoint, store }, { ...source, path: 'held.onnx' }, { signal: controller.signal, onProgress: (pr) => pr.loaded > 0 && controller.abort() });
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(await store.list()).toEqual([]);
  });

  it('stores without holding the bytes when asked to, and says when it cannot', async () => {
    const store = new MemoryBlobStore();
    const got = await cacheModelFile({ endpoint, store }, source);
    expect(got).not.toHaveProperty('bytes');
    expect(got.meta).toMatchObject({ size: MODEL.length, sha256: createHash('sha256').update(MODEL).digest('hex') });
    expect((await store.get(got.meta.key))?.bytes).toEqual(MODEL);
    expect((await cacheModelFile({ endpoint, store }, source)).fromCache).toBe(true);
    await expect(cacheModelFile({ endpoint, store: new MemoryBlobStore(1000) }, source)).rejects.toThrow(/storage is full/);
  });
});
