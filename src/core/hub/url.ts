// Turns whatever a user pastes into a model reference: a file on the Hugging Face hub (or a mirror),
// a whole hub repo (then the UI lists its .onnx files), or a plain https URL to an .onnx file.

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export type ModelSource =
  | { readonly kind: 'hub-file'; readonly repo: string; readonly revision: string; readonly path: string }
  | { readonly kind: 'hub-repo'; readonly repo: string; readonly revision: string | null }
  | { readonly kind: 'url'; readonly url: string };

export type ParseResult = { readonly ok: true; readonly source: ModelSource } | { readonly ok: false; readonly error: string };

const HUB_HOSTS = new Set(['huggingface.co', 'www.huggingface.co', 'hf.co']);
// Hub repo names: letters, digits, '-', '_', '.'; no leading/trailing '.' or '-'; at most 96 chars.
const NAME = /^(?![.-])[A-Za-z0-9._-]{1,96}(?<![.-])$/;

function fail(error: string): ParseResult {
  return { ok: false, error };
}

function isRepoId(org: string, name: string): boolean {
  return NAME.test(org) && NAME.test(name) && !org.includes('..') && !name.includes('..');
}

function decodeSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** Normalises an endpoint setting: scheme required, no trailing slash. */
export function normaliseEndpoint(endpoint: string): string {
  const url = new URL(endpoint.trim());
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`The hub endpoint must be an http(s) URL, got ${endpoint}`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function parseModelSource(input: string, endpoint: string = DEFAULT_HUB_ENDPOINT): ParseResult {
  const text = input.trim();
  if (text === '') return fail('Paste a Hugging Face model URL, a repo id like org/model, or a link to an .onnx file.');
  if (/\s/.test(text)) return fail('The address contains spaces; paste a single URL or repo id.');

  const bareRepo = /^([^/:@]+)\/([^/:@]+)(?:@([^/\s]+))?$/.exec(text);
  if (bareRepo) {
    const [, org, name, revision] = bareRepo as unknown as [string, string, string, string | undefined];
    if (!isRepoId(org, name)) return fail(`"${text}" is not a valid repo id: use letters, digits, '-', '_' or '.' as in org/model.`);
    return { ok: true, source: { kind: 'hub-repo', repo: `${org}/${name}`, revision: revision ?? null } };
  }

  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  // Without a scheme, only something that looks like a domain ("hf.co/…") is taken as a URL.
  if (!hasScheme && !/^[^/]+\.[^/]+/.test(text)) return fail(`"${text}" is neither a URL nor a repo id like org/model.`);
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `https://${text}`);
  } catch {
    return fail(`"${text}" is neither a URL nor a repo id like org/model.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return fail(`Only http(s) links can be loaded, not ${url.protocol}`);

  const endpointUrl = new URL(normaliseEndpoint(endpoint));
  const endpointPath = endpointUrl.pathname === '/' ? '' : endpointUrl.pathname;
  const onHub = HUB_HOSTS.has(url.hostname) || (url.host === endpointUrl.host && url.pathname.startsWith(`${endpointPath}/`));
  if (!onHub) {
    if (url.protocol !== 'https:' && !isLoopback(url.hostname)) return fail('Use an https:// link: plain http is only allowed for this machine (localhost).');
    if (!/\.onnx$/i.test(url.pathname)) return fail(`The link does not point to an .onnx file (${url.pathname || '/'}).`);
    return { ok: true, source: { kind: 'url', url: url.href } };
  }
  const path = HUB_HOSTS.has(url.hostname) ? url.pathname : url.pathname.slice(endpointPath.length);
  return parseHubPath(path, text);
}

function parseHubPath(pathname: string, original: string): ParseResult {
  const segments = pathname.split('/').filter((s) => s !== '');
  // Model repos only: datasets/ and spaces/ hold no encoders we can load.
  if (segments[0] === 'datasets' || segments[0] === 'spaces') return fail('That is a dataset or Space link; paste the link of a model repo.');
  const [org, name, action, revisionSegment, ...rest] = segments;
  if (!org || !name) return fail(`"${original}" names no repo: expected huggingface.co/org/model/…`);
  if (!isRepoId(org, name)) return fail(`"${org}/${name}" is not a valid repo id.`);
  const repo = `${org}/${name}`;
  if (action === undefined) return { ok: true, source: { kind: 'hub-repo', repo, revision: null } };
  const revision = revisionSegment === undefined ? null : decodeSegment(revisionSegment);
  if (revisionSegment !== undefined && revision === null) return fail('The revision in the link is not valid URL encoding.');
  if (action === 'tree') return { ok: true, source: { kind: 'hub-repo', repo, revision } };
  if (action !== 'resolve' && action !== 'blob') return fail(`Unrecognised hub link (…/${action}/…): use a …/resolve/… or …/blob/… link to an .onnx file.`);
  if (!revision || rest.length === 0) return fail('The link names no file: expected …/resolve/<revision>/<path>.onnx');
  const decoded = rest.map(decodeSegment);
  if (decoded.some((s) => s === null || s === '..' || s === '.')) return fail('The file path in the link is not valid.');
  const path = decoded.join('/');
  if (!/\.onnx$/i.test(path)) return fail(`"${path}" is not an .onnx file. Pick the model's .onnx file, or paste the repo id to list them.`);
  return { ok: true, source: { kind: 'hub-file', repo, revision, path } };
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Download URL of a file in a hub repo (the hub redirects to its CDN; fetch follows). */
export function hubFileUrl(endpoint: string, repo: string, revision: string, path: string): string {
  return `${normaliseEndpoint(endpoint)}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
}

/**
 * Model-info API: lists the repo's files (`siblings`) and its resolved commit (`sha`). Siblings
 * carry only their name unless `blobs` is asked for; then each has its `size` (and `lfs` details),
 * in the same single request.
 */
export function hubModelApiUrl(endpoint: string, repo: string, revision: string | null, options: { blobs?: boolean } = {}): string {
  const base = `${normaliseEndpoint(endpoint)}/api/models/${repo}`;
  const url = revision === null ? base : `${base}/revision/${encodeURIComponent(revision)}`;
  return options.blobs ? `${url}?blobs=true` : url;
}

/** Path of a file next to `path` in the same repo folder (e.g. preprocessor_config.json). */
export function siblingPath(path: string, name: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? name : `${path.slice(0, slash + 1)}${name}`;
}

/** The URL to download for a file source (hub file or plain URL). */
export function downloadUrl(source: Exclude<ModelSource, { kind: 'hub-repo' }>, endpoint: string): string {
  return source.kind === 'url' ? source.url : hubFileUrl(endpoint, source.repo, source.revision, source.path);
}
