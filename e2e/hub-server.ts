// A local stand-in for the Hugging Face hub with the same URL layout and headers, for e2e tests:
//   GET /api/models/<org>/<repo>[/revision/<rev>]  → { sha, siblings }
//   GET /<org>/<repo>/resolve/<rev>/<path>          → the file (ETag, X-Repo-Commit, Range)
// Repos: acme/tiny-encoder (healthy), acme/flaky (breaks the first transfer mid-file),
// acme/gated (401 without the token "hf_test"). The server streams slowly enough for progress to show.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFile {
  readonly bytes: Uint8Array;
}

export interface HubServer {
  readonly endpoint: string;
  /** Paths of file requests (resolve URLs) received, with their Range header. */
  readonly fileRequests: { path: string; range: string | null }[];
  close(): Promise<void>;
}

export const HUB_COMMIT = '0123456789abcdef0123456789abcdef01234567';
export const HUB_TOKEN = 'hf_test';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, range, if-range',
  'access-control-expose-headers': 'etag, x-repo-commit, x-linked-etag, content-length, content-range',
  'cross-origin-resource-policy': 'cross-origin',
};

export async function startHubServer(files: Readonly<Record<string, Uint8Array>>, chunkDelayMs = 15): Promise<HubServer> {
  const fileRequests: { path: string; range: string | null }[] = [];
  const brokenOnce = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'OPTIONS') return void res.writeHead(204, CORS).end();
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const api = /^\/api\/models\/([^/]+\/[^/]+)(?:\/revision\/(.+))?$/.exec(path);
    const authorised = req.headers['authorization'] === `Bearer ${HUB_TOKEN}`;
    if (api) {
      const repo = api[1]!;
      if (repo === 'acme/gated' && !authorised) return void res.writeHead(401, CORS).end();
      const prefix = `${repo}/`;
      const siblings = Object.keys(files).filter((k) => k.startsWith(prefix)).map((k) => ({ rfilename: k.slice(prefix.length) }));
      if (siblings.length === 0) return void res.writeHead(404, CORS).end();
      res.writeHead(200, { ...CORS, 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ id: repo, sha: HUB_COMMIT, siblings }));
    }
    const file = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (!file) return void res.writeHead(404, CORS).end();
    const [, repo, , filePath] = file as unknown as [string, string, string, string];
    fileRequests.push({ path, range: (req.headers['range'] as string | undefined) ?? null });
    if (repo === 'acme/gated' && !authorised) return void res.writeHead(401, CORS).end();
    const bytes = files[`${repo}/${filePath}`];
    if (!bytes) return void res.writeHead(404, CORS).end();
    const start = Number(/bytes=(\d+)-/.exec(String(req.headers['range'] ?? ''))?.[1] ?? 0);
    const body = bytes.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, {
      ...CORS,
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      etag: `"${HUB_COMMIT}-${filePath}"`,
      'x-repo-commit': HUB_COMMIT,
      ...(start > 0 ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    });
    const breakAt = repo === 'acme/flaky' && !brokenOnce.has(path) && start === 0 ? Math.floor(body.length / 2) : -1;
    if (breakAt >= 0) brokenOnce.add(path);
    stream(res, body, chunkDelayMs, breakAt);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    fileRequests,
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
