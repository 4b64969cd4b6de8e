// The Content-Security-Policy the app runs under. Scripts, workers, styles, fonts and the manifest
// come from the app's own origin only; WebAssembly may compile ('wasm-unsafe-eval': ORT needs it,
// it allows no JS eval); images only from self, blob: and data: (decoded user images never leave
// as URLs). Network connections go to self plus the configured model hub, nothing else.
//
// The hub endpoint is a user setting, so the document's policy is built at start-up from the saved
// endpoint (see src/app/privacy/install-csp.ts) and a change of endpoint reloads the page: a policy
// can be tightened at run time but never loosened. The static policy in index.html and the one the
// server sends with worker scripts are this same policy with a fixed connect-src.

export const DEFAULT_HUB_CONNECT = 'https://huggingface.co';

/**
 * Origins a download from `endpoint` needs. Hugging Face answers `resolve` URLs with redirects to
 * its CDN and Xet storage hosts (cdn-lfs.huggingface.co, cdn-lfs.hf.co, cas-bridge.xethub.hf.co, …),
 * all under huggingface.co or hf.co; a mirror is trusted for its own origin only.
 */
export function hubConnectSources(endpoint: string): string[] {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return [];
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return [];
  const host = url.hostname;
  const isHf = url.protocol === 'https:' && /(^|\.)(huggingface\.co|hf\.co)$/.test(host);
  return isHf ? ['https://huggingface.co', 'https://*.huggingface.co', 'https://hf.co', 'https://*.hf.co'] : [url.origin];
}

/** The policy's directives; `connect` lists what connect-src allows besides 'self'. */
export function buildCsp(connect: readonly string[]): string {
  const directives: [string, ...string[]][] = [
    ['default-src', "'self'"],
    ['script-src', "'self'", "'wasm-unsafe-eval'"],
    ['worker-src', "'self'"],
    ['connect-src', "'self'", ...connect],
    ['img-src', "'self'", 'blob:', 'data:'],
    ['style-src', "'self'"],
    ['font-src', "'self'"],
    ['manifest-src', "'self'"],
    ['object-src', "'none'"],
    ['base-uri', "'self'"],
    ['form-action', "'none'"],
  ];
  return directives.map((d) => d.join(' ')).join('; ');
}

/** The document's policy for a hub endpoint. */
export function documentCsp(hubEndpoint: string): string {
  return buildCsp(hubConnectSources(hubEndpoint));
}

/**
 * Sent as a header with every non-HTML response: workers take their policy from their own script's
 * response, and no worker talks to anything but its own origin (models reach them as bytes).
 */
export const WORKER_CSP = buildCsp([]);

/**
 * Static policy written into index.html, for hosts that send no headers: the same directives with
 * connect-src open to http(s), because the hub endpoint is unknown until the saved setting is read;
 * the start-up policy then narrows connect-src (both policies apply, so the stricter one wins).
 */
export const STATIC_DOCUMENT_CSP = buildCsp(['https:', 'http:']);

/** The sources of one directive of a policy string (null when absent), e.g. to check a policy. */
export function directive(policy: string, name: string): string | null {
  const found = policy.split(';').map((d) => d.trim()).find((d) => d === name || d.startsWith(`${name} `));
  return found ? found.slice(name.length).trim() : null;
}

/**
 * Whether the document policy for `hubEndpoint` lets the page connect to `url` (the same matching
 * the browser applies to the sources above: exact origins, and `*.` for any subdomain).
 */
export function connectAllowed(url: string, hubEndpoint: string, selfOrigin: string): boolean {
  let target: URL;
  try {
    target = new URL(url, selfOrigin);
  } catch {
    return false;
  }
  if (target.origin === selfOrigin) return true;
  return hubConnectSources(hubEndpoint).some((source) => {
    const wildcard = /^(https?:)\/\/\*\.(.+)$/.exec(source);
    if (!wildcard) return source === target.origin;
    return target.protocol === wildcard[1] && target.hostname.endsWith(`.${wildcard[2]}`) && target.port === '';
  });
}
