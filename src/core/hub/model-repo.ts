// Fetches model files from the hub (or a plain URL) through the local cache. A revision is resolved
// to its commit first, so "main" is re-downloaded only when it moved, and a pinned commit never
// touches the network once cached. Offline, the newest cached copy of the same file is used.
import { CancelledError, isCancelled } from '../runtime/cancel';
import { ByteSink, DownloadError, httpErrorFor, openDownload, sha256Hex, type DownloadProgress } from './download';
import { isQuotaError, type BlobStore, type PendingFileMeta, type StoredFileMeta } from './store';
import { configCandidatePaths, configCandidateUrls, describeRepoConfig, describeUrlConfig, nearestConfigPath, type ConfigLocation } from './config-lookup';
import { analyseRepoLayout, type RepoLayout } from './repo-layout';
import { hubFileUrl, hubModelApiUrl, type ModelSource } from './url';
import { errorText } from '../runtime/error-text';

export type FileSource = Exclude<ModelSource, { kind: 'hub-repo' }>;

export interface HubAccess {
  readonly endpoint: string;
  /** Hugging Face access token for gated/private repos (never stored by this module). */
  readonly token?: string | null;
  readonly store: BlobStore;
  readonly fetch?: typeof fetch;
}

export interface FetchOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DownloadProgress) => void;
}

export interface FetchedFile {
  readonly meta: StoredFileMeta;
  readonly bytes: Uint8Array;
  readonly fromCache: boolean;
  /** Set when the file could not be cached (e.g. storage full); it is still usable now. */
  readonly storeError: string | null;
  /** Set when the network was unreachable and a cached copy of the same revision was used. */
  readonly offlineNotice: string | null;
}

/** A file fetched into the store without its bytes being kept (external weights, read later). */
export type StoredOnly = Omit<FetchedFile, 'bytes'>;

export interface RepoFile {
  readonly path: string;
  readonly size: number | null;
}

export interface RepoListing {
  readonly repo: string;
  readonly revision: string;
  readonly commit: string | null;
  readonly onnxFiles: readonly RepoFile[];
  /** The .onnx files by component and variant, with the one to load preselected. */
  readonly layout: RepoLayout;
  /** Set when the hub could not be reached and the listing comes from the files cached here. */
  readonly offlineNotice?: string;
}

export const isCommitSha = (revision: string): boolean => /^[0-9a-f]{40}$/.test(revision);

function authHeaders(access: HubAccess): Record<string, string> {
  return access.token ? { Authorization: `Bearer ${access.token}` } : {};
}

interface ModelInfoJson {
  readonly sha?: unknown;
  readonly siblings?: unknown;
}

async function modelInfo(access: HubAccess, repo: string, revision: string, signal?: AbortSignal, blobs = false): Promise<ModelInfoJson> {
  const url = hubModelApiUrl(access.endpoint, repo, revision, { blobs });
  const doFetch = access.fetch ?? globalThis.fetch.bind(globalThis);
  let response: Response;
  try {
    response = await doFetch(url, { headers: authHeaders(access), signal: signal ?? null });
  } catch (err) {
    if (signal?.aborted) throw new CancelledError('Cancelled.');
    throw new DownloadError('network', `Could not reach ${new URL(url).host}: you may be offline, or the server blocks this page (CORS). (${errorText(err)})`);
  }
  if (!response.ok) throw httpErrorFor(url, response.status, response.statusText);
  try {
    return (await response.json()) as ModelInfoJson;
  } catch {
    throw new DownloadError('http', `${new URL(url).host} did not answer with the hub's model API (not JSON). Is the hub endpoint right?`);
  }
}

/** Every file path of a repo at a revision, or null when the hub's model API cannot say. */
export async function listRepoFiles(access: HubAccess, repo: string, revision: string, signal?: AbortSignal): Promise<Set<string> | null> {
  try {
    const info = await modelInfo(access, repo, revision, signal);
    if (!Array.isArray(info.siblings)) return null;
    return new Set((info.siblings as { rfilename?: unknown }[]).map((s) => s.rfilename).filter((n): n is string => typeof n === 'string'));
  } catch (err) {
    if (isCancelled(err)) throw err;
    return null;
  }
}

/** Whether a cached file is of `repo` at `revision` (asked for by that name, or resolved to that commit). */
const cachedAt = (m: StoredFileMeta, repo: string, revision: string): boolean => m.repo === repo && (m.revision === revision || m.commit === revision);

/** The .onnx files of a repo at a revision that are cached here, for when the hub is unreachable. */
async function cachedListing(access: HubAccess, repo: string, revision: string): Promise<RepoListing | null> {
  const cached = (await access.store.list()).filter((m) => cachedAt(m, repo, revision)).sort((a, b) => b.savedAt.localeCompare(a.savedAt));
  const files = cached.filter((m) => /\.onnx$/i.test(m.path));
  if (files.length === 0) return null;
  const onnxFiles = [...new Map(files.map((m) => [m.path, { path: m.path, size: m.size }])).values()].sort((a, b) => a.path.localeCompare(b.path));
  const configMeta = cached.find((m) => m.path === 'config.json');
  const configFile = configMeta ? await access.store.get(configMeta.key) : null;
  const others = cached.filter((m) => !/\.onnx$/i.test(m.path)).map((m) => ({ path: m.path, size: m.size }));
  const layout = analyseRepoLayout(repo, [...onnxFiles, ...others], configFile ? parseJsonOrNull(configFile.bytes) : null);
  return { repo, revision, commit: files[0]!.commit, onnxFiles, layout, offlineNotice: `The hub could not be reached; these are the files of ${repo} saved on this device.` };
}

function parseJsonOrNull(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return null;
  }
}

interface SiblingJson {
  readonly rfilename?: unknown;
  readonly size?: unknown;
  readonly lfs?: { readonly size?: unknown } | null;
}

/**
 * Lists the .onnx files of a repo at a revision (default "main") grouped by component and variant,
 * with sizes, the file to load preselected (see analyseRepoLayout; the root config.json, when the
 * repo has one, is read for what the model takes in); offline, the cached ones.
 */
export async function listOnnxFiles(access: HubAccess, repo: string, revision: string | null, signal?: AbortSignal): Promise<RepoListing> {
  const rev = revision ?? 'main';
  let info: ModelInfoJson;
  try {
    // One request gives names and sizes (blobs=true); without it the hub sends names only.
    info = await modelInfo(access, repo, rev, signal, true);
  } catch (err) {
    const offline = err instanceof DownloadError && err.kind === 'network' ? await cachedListing(access, repo, rev) : null;
    if (offline) return offline;
    throw err;
  }
  const siblings = Array.isArray(info.siblings) ? (info.siblings as SiblingJson[]) : [];
  const files: RepoFile[] = siblings
    .filter((s): s is SiblingJson & { rfilename: string } => typeof s.rfilename === 'string')
    .map((s) => ({ path: s.rfilename, size: typeof s.size === 'number' ? s.size : typeof s.lfs?.size === 'number' ? s.lfs.size : null }));
  const onnxFiles = files.filter((f) => /\.onnx$/i.test(f.path)).sort((a, b) => a.path.localeCompare(b.path));
  const commit = typeof info.sha === 'string' ? info.sha : null;
  let config: unknown = null;
  if (onnxFiles.length > 0 && files.some((f) => f.path === 'config.json')) {
    try {
      // Fetched at the commit just listed, without asking the API again what `rev` points at.
      const about = { sourceUrl: hubFileUrl(access.endpoint, repo, rev, 'config.json'), repo, revision: rev, commit, path: 'config.json' };
      const got = (await fetchThroughCache(access, hubFileUrl(access.endpoint, repo, commit ?? rev, 'config.json'), about, signal ? { signal } : {}, true)) as FetchedFile;
      config = parseJsonOrNull(got.bytes);
    } catch (err) {
      if (isCancelled(err)) throw err;
      // Without the config the layout still stands on file names and the files beside them.
    }
  }
  return { repo, revision: rev, commit, onnxFiles, layout: analyseRepoLayout(repo, files, config) };
}

/**
 * The commit a revision points at now. `reachable` is false when the hub cannot be reached at all
 * (offline); a hub without the model API (some mirrors) gives a null commit but stays reachable,
 * and the file request itself then says what is wrong.
 */
async function resolveCommit(
  access: HubAccess,
  repo: string,
  revision: string,
  signal?: AbortSignal,
): Promise<{ commit: string | null; reachable: boolean }> {
  if (isCommitSha(revision)) return { commit: revision, reachable: true };
  try {
    const info = await modelInfo(access, repo, revision, signal);
    return { commit: typeof info.sha === 'string' ? info.sha : null, reachable: true };
  } catch (err) {
    if (!(err instanceof DownloadError)) throw err;
    if (err.kind === 'network') return { commit: null, reachable: false };
    if (err.kind === 'unauthorized' || err.kind === 'forbidden') throw err;
    return { commit: null, reachable: true };
  }
}

export async function fetchModelFile(access: HubAccess, source: FileSource, options: FetchOptions = {}): Promise<FetchedFile> {
  return (await fetchFile(access, source, options, true)) as FetchedFile;
}

/**
 * Like fetchModelFile, but only makes sure the file is in the store, without holding its bytes
 * (e.g. external weights, which the runtime reads from the store later). Throws when it cannot be
 * stored.
 */
export async function cacheModelFile(access: HubAccess, source: FileSource, options: FetchOptions = {}): Promise<StoredOnly> {
  const { meta, fromCache, storeError, offlineNotice } = await fetchFile(access, source, options, false);
  return { meta, fromCache, storeError, offlineNotice };
}

async function fetchFile(access: HubAccess, source: FileSource, options: FetchOptions, keep: boolean): Promise<FetchedFile | StoredOnly> {
  if (source.kind === 'url') {
    return fetchThroughCache(access, source.url, { sourceUrl: source.url, repo: null, revision: null, commit: null, path: new URL(source.url).pathname.split('/').pop() ?? source.url }, options, keep);
  }
  const { commit, reachable } = await resolveCommit(access, source.repo, source.revision, options.signal);
  const requested = hubFileUrl(access.endpoint, source.repo, source.revision, source.path);
  if (!reachable) {
    // Offline (or the API is unreachable): any cached copy of this file at this revision will do.
    const cached = (await access.store.list())
      .filter((m) => m.path === source.path && cachedAt(m, source.repo, source.revision))
      .sort((a, b) => b.savedAt.localeCompare(a.savedAt))[0];
    if (cached) {
      const offlineNotice = `The hub could not be reached; using the copy of ${source.path} saved ${cached.savedAt.slice(0, 10)}.`;
      if (!keep) return { meta: cached, fromCache: true, storeError: null, offlineNotice };
      const hit = await access.store.get(cached.key);
      if (hit) return { ...hit, fromCache: true, storeError: null, offlineNotice };
    }
  }
  const url = commit ? hubFileUrl(access.endpoint, source.repo, commit, source.path) : requested;
  return fetchThroughCache(access, url, { sourceUrl: requested, repo: source.repo, revision: source.revision, commit, path: source.path }, options, keep);
}

/**
 * Downloads `url` into the store as the bytes arrive (size and SHA-256 measured on the way) and,
 * when `keep`, also into one buffer for the caller. Peak memory is the file once (plus chunks in
 * flight), where collecting, joining, hashing and storing used to hold it two or three times. When
 * storing fails (e.g. storage full) the download goes on into memory so the file is usable now.
 */
async function fetchThroughCache(
  access: HubAccess,
  url: string,
  about: Omit<StoredFileMeta, 'key' | 'size' | 'sha256' | 'savedAt'>,
  options: FetchOptions,
  keep: boolean,
): Promise<FetchedFile | StoredOnly> {
  if (keep) {
    const hit = await access.store.get(url);
    if (hit) return { ...hit, fromCache: true, storeError: null, offlineNotice: null };
  } else {
    const meta = await access.store.has(url);
    if (meta) return { meta, fromCache: true, storeError: null, offlineNotice: null };
  }
  const reader = await openDownload(url, {
    headers: authHeaders(access),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(access.fetch ? { fetch: access.fetch } : {}),
  });
  const pending: PendingFileMeta = { ...about, commit: about.commit ?? reader.commit, key: url };
  const sink = keep ? new ByteSink(reader.total) : null;
  let downloadError: unknown = null;
  // One read at a time: after the store gives up, the rest is read here, once the last pull is done.
  let inflight: Promise<void> = Promise.resolve();
  // Set when the store cancels the stream (it gave up); the controller is then closed.
  let storeGaveUp = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      inflight = (async () => {
        let chunk: Uint8Array | null;
        try {
          chunk = await reader.read();
        } catch (err) {
          downloadError = err;
          if (!storeGaveUp) controller.error(err);
          return;
        }
        if (chunk) sink?.add(chunk);
        if (storeGaveUp) return;
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      })();
      return inflight;
    },
    cancel() {
      storeGaveUp = true;
    },
  });
  let meta: StoredFileMeta;
  let storeError: string | null = null;
  try {
    meta = await access.store.putStream(pending, body);
  } catch (err) {
    await inflight;
    if (downloadError !== null) throw downloadError;
    storeError = isQuotaError(err)
      ? `Browser storage is full, so ${about.path} was not cached: it works now but will download again next time. Free space in the model manager.`
      : `Could not cache ${about.path}: ${errorText(err)}`;
    if (!sink) {
      // Without a stored copy the file cannot be used later, and holding it here was not asked for.
      await reader.cancel();
      throw new Error(storeError);
    }
    for (let chunk = await reader.read(); chunk; chunk = await reader.read()) sink.add(chunk);
    const bytes = sink.bytes();
    meta = { ...pending, size: bytes.byteLength, sha256: await sha256Hex(bytes), savedAt: new Date().toISOString() };
    return { meta, bytes, fromCache: false, storeError, offlineNotice: null };
  }
  if (!sink) return { meta, fromCache: false, storeError, offlineNotice: null };
  return { meta, bytes: sink.bytes(), fromCache: false, storeError, offlineNotice: null };
}

export interface NearestJson {
  /** The parsed file and where it was; null when none of the places looked at had it. */
  readonly found: { readonly json: unknown; readonly location: ConfigLocation } | null;
  /** Every place looked at (repo paths or URLs), nearest first. */
  readonly searched: readonly string[];
}

/**
 * The nearest `name` (preprocessor_config.json, config.json) to the model: beside it, else in each
 * parent folder up to the repo root. On the hub the repo listing (`files`, from listRepoFiles)
 * says which exist, so nothing absent is requested; without a listing, and for plain links (at
 * most CONFIG_SEARCH_LEVELS folders), the places are tried in turn and the first found wins.
 */
export async function fetchNearestJson(
  access: HubAccess,
  source: FileSource,
  name: string,
  files: ReadonlySet<string> | null,
  options: FetchOptions = {},
): Promise<NearestJson> {
  const atRepo = (path: string) => ({ source: { ...source, path } as FileSource, location: { path, description: describeRepoConfig(path, source.kind === 'url' ? '' : source.path) } });
  if (source.kind === 'hub-file' && files) {
    const paths = configCandidatePaths(source.path, name);
    const nearest = nearestConfigPath(source.path, name, files);
    if (!nearest) return { found: null, searched: paths };
    return { found: await readJson(access, atRepo(nearest), options), searched: paths.slice(0, paths.indexOf(nearest) + 1) };
  }
  const candidates =
    source.kind === 'url'
      ? configCandidateUrls(source.url, name).map((url) => ({ source: { kind: 'url', url } as FileSource, location: { path: url, description: describeUrlConfig(url, source.url) } }))
      : configCandidatePaths(source.path, name).map(atRepo);
  const searched: string[] = [];
  for (const candidate of candidates) {
    searched.push(candidate.location.path);
    const found = await readJson(access, candidate, options);
    if (found) return { found, searched };
  }
  return { found: null, searched };
}

async function readJson(access: HubAccess, candidate: { source: FileSource; location: ConfigLocation }, options: FetchOptions): Promise<NearestJson['found']> {
  let file: FetchedFile;
  try {
    file = await fetchModelFile(access, candidate.source, options);
  } catch (err) {
    if (err instanceof DownloadError && err.kind === 'not-found') return null;
    throw err;
  }
  try {
    return { json: JSON.parse(new TextDecoder().decode(file.bytes)) as unknown, location: candidate.location };
  } catch {
    throw new Error(`${candidate.location.description} (${candidate.location.path}) is not valid JSON.`);
  }
}
