// A local stand-in for the Hugging Face hub with the same URL layout and headers, for e2e tests:
//   GET /api/models/<org>/<repo>[/revision/<rev>][?blobs=true]
//        → { id, sha, siblings: [{ rfilename }] }; with blobs=true each sibling also has its size,
//          blobId and, for LFS files, lfs { sha256, size, pointerSize }, as the real API answers.
//   GET /<org>/<repo>/resolve/<rev>/<path>
//        → small (git) files directly, with ETag (the git blob id) and X-Repo-Commit;
//        → LFS files (.onnx, .onnx_data, anything of 10 MB or more) a 302 redirect to
//          /__cdn/repos/<org>/<repo>/<sha256>?…, carrying X-Repo-Commit, X-Linked-Etag ("<sha256>"),
//          X-Linked-Size and the pointer's ETag, like the hub's redirect to its CDN; the CDN path
//          serves the bytes with ETag "<sha256>", Range and If-Range, and no X-Repo-Commit.
// Repos: anything given in `files`; acme/flaky breaks the first transfer of each file mid-way;
// acme/gated answers 401 without the token "hf_test"; acme/slow sends its bytes ten times slower
// (time to cancel). The server streams slowly enough for progress to show.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRequest {
  readonly path: string;
  readonly range: string | null;
}

export interface HubServer {
  readonly endpoint: string;
  /** File requests (resolve URLs) received, with their Range header. */
  readonly fileRequests: HubRequest[];
  /**
   * Requests for the bytes of LFS files at the redirect target ("CDN"): the repo and content hash
   * (files with the same bytes share one LFS object, as on the hub), Range and If-Range.
   */
  readonly cdnRequests: (HubRequest & { readonly repo: string; readonly sha256: string; readonly ifRange: string | null })[];
  close(): Promise<void>;
}

export const HUB_COMMIT = '0123456789abcdef0123456789abcdef01234567';
export const HUB_TOKEN = 'hf_test';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, range, if-range',
  'access-control-expose-headers': 'etag, x-repo-commit, x-linked-etag, x-linked-size, x-error-code, content-length, content-range, location',
  'cross-origin-resource-policy': 'cross-origin',
};

const LFS_MIN_BYTES = 10 * 1024 * 1024;
const isLfs = (path: string, bytes: Uint8Array): boolean => /\.(onnx|onnx_data|bin|safetensors)$/i.test(path) || bytes.length >= LFS_MIN_BYTES;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** Git's blob id: sha1 over "blob <length>\0" and the content. */
const gitBlobId = (b: Uint8Array): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const lfsPointer = (b: Uint8Array): Uint8Array => new TextEncoder().encode(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(b)}\nsize ${b.length}\n`);

export async function startHubServer(files: Readonly<Record<string, Uint8Array>>, chunkDelayMs = 15): Promise<HubServer> {
  const fileRequests: HubServer['fileRequests'] = [];
  const cdnRequests: HubServer['cdnRequests'] = [];
  const brokenOnce = new Set<string>();
  // What the CDN serves, by repo and content hash.
  const blobs = new Map<string, { key: string; bytes: Uint8Array }>();
  for (const [key, bytes] of Object.entries(files)) {
    const repo = key.split('/').slice(0, 2).join('/');
    blobs.set(`${repo}/${sha256(bytes)}`, { key, bytes });
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'OPTIONS') return void res.writeHead(204, CORS).end();
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    const range = (req.headers['range'] as string | undefined) ?? null;
    const authorised = req.headers['authorization'] === `Bearer ${HUB_TOKEN}`;

    const api = /^\/api\/models\/([^/]+\/[^/]+)(?:\/revision\/(.+))?$/.exec(path);
    if (api) {
      const repo = api[1]!;
      if (repo === 'acme/gated' && !authorised) return void res.writeHead(401, CORS).end();
      const prefix = `${repo}/`;
      const entries = Object.entries(files).filter(([k]) => k.startsWith(prefix));
      if (entries.length === 0) return void res.writeHead(404, { ...CORS, 'x-error-code': 'RepoNotFound' }).end();
      const blobsWanted = url.searchParams.get('blobs') === 'true';
      const siblings = entries.map(([k, bytes]) => {
        const rfilename = k.slice(prefix.length);
        if (!blobsWanted) return { rfilename };
        if (!isLfs(rfilename, bytes)) return { rfilename, blobId: gitBlobId(bytes), size: bytes.length };
        const pointer = lfsPointer(bytes);
        return { rfilename, blobId: gitBlobId(pointer), size: bytes.length, lfs: { sha256: sha256(bytes), size: bytes.length, pointerSize: pointer.length } };
      });
      res.writeHead(200, { ...CORS, 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ _id: repo, id: repo, modelId: repo, sha: HUB_COMMIT, private: false, gated: repo === 'acme/gated' ? 'auto' : false, siblings }));
    }

    const cdn = /^\/__cdn\/repos\/([^/]+\/[^/]+)\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      // The CDN link is signed: no token needed, and the hub's commit is not known here.
      const blob = blobs.get(`${cdn[1]!}/${cdn[2]!}`);
      const ifRange = (req.headers['if-range'] as string | undefined) ?? null;
      cdnRequests.push({ path, range, ifRange, repo: cdn[1]!, sha256: cdn[2]! });
      if (!blob) return void res.writeHead(404, CORS).end();
      const etag = `"${cdn[2]!}"`;
      sendBytes(req, res, blob.bytes, { etag }, blob.key, range && (ifRange === null || ifRange === etag) ? range : null);
      return;
    }

    const file = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (!file) return void res.writeHead(404, CORS).end();
    const [, repo, , filePath] = file as unknown as [string, string, string, string];
    fileRequests.push({ path, range });
    if (repo === 'acme/gated' && !authorised) return void res.writeHead(401, { ...CORS, 'x-error-code': 'GatedRepo' }).end();
    const bytes = files[`${repo}/${filePath}`];
    if (!bytes) return void res.writeHead(404, { ...CORS, 'x-error-code': 'EntryNotFound' }).end();
    if (isLfs(filePath, bytes)) {
      const hash = sha256(bytes);
      res.writeHead(302, {
        ...CORS,
        location: `/__cdn/repos/${repo}/${hash}?response-content-disposition=${encodeURIComponent(`inline; filename="${filePath.split('/').pop()!}"`)}&Expires=4102444800&Signature=e2e`,
        'x-repo-commit': HUB_COMMIT,
        'x-linked-etag': `"${hash}"`,
        'x-linked-size': String(bytes.length),
        etag: `"${gitBlobId(lfsPointer(bytes))}"`,
        'content-length': '0',
      });
      return void res.end();
    }
    sendBytes(req, res, bytes, { etag: `"${gitBlobId(bytes)}"`, 'x-repo-commit': HUB_COMMIT }, `${repo}/${filePath}`, range);
  });

  /** Serves `bytes` (from the Range start when given), breaking acme/flaky's first full transfer. */
  function sendBytes(req: IncomingMessage, res: ServerResponse, bytes: Uint8Array, headers: Record<string, string>, key: string, range: string | null): void {
    const start = Number(/bytes=(\d+)-/.exec(range ?? '')?.[1] ?? 0);
    const body = bytes.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, {
      ...CORS,
      ...headers,
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      ...(start > 0 ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const breakAt = key.startsWith('acme/flaky/') && !brokenOnce.has(key) && start === 0 ? Math.floor(body.length / 2) : -1;
    if (breakAt >= 0) brokenOnce.add(key);
    stream(res, body, key.startsWith('acme/slow/') ? chunkDelayMs * 10 : chunkDelayMs, breakAt);
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    fileRequests,
    cdnRequests,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

function stream(res: ServerResponse, body: Uint8Array, delayMs: number, breakAt: number): void {
  const chunk = Math.max(16 * 1024, Math.ceil(body.length / 40));
  let offset = 0;
  const next = () => {
    if (breakAt >= 0 && offset >= breakAt) {
      res.socket?.destroy();
      return;
    }
    if (offset >= body.length) return void res.end();
    const end = Math.min(body.length, offset + chunk);
    res.write(Buffer.from(body.subarray(offset, end)));
    offset = end;
    setTimeout(next, delayMs);
  };
  next();
}
