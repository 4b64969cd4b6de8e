// The Vite dev server talks to the page it serves: a hot-reload WebSocket (subprotocol `vite-hmr`,
// plus a `vite-ping` one while it reconnects) and the module requests of its module graph. That is
// the developer's own tooling on their own machine, not the user's data leaving, so a dev build's
// ledger leaves it out (src/app/privacy/network-guard.ts decides with import.meta.env.DEV). The rule
// is deliberately narrow: anything else to the same host, or a Vite subprotocol to another host, counts.
import type { SendRecord } from './network-ledger';

/** WebSocket subprotocols of Vite's client (vite/dist/client/client.mjs). */
export const DEV_SERVER_SOCKET_PROTOCOLS: readonly string[] = ['vite-hmr', 'vite-ping'];

/** Paths the dev server answers as modules: its own client and helpers, pre-bundled deps, the sources. */
const MODULE_PATH = /^\/(?:@vite\/|@id\/|@fs\/|@react-refresh$|node_modules\/\.vite\/|src\/|workers\/)/;
/** Query markers Vite adds to module URLs (`?import`, `?t=` after a hot update, `?v=` of deps, `?worker_file`). */
const MODULE_QUERY = /[?&](?:import|t|v|worker_file|html-proxy|direct)(?:=|&|$)/;

function sameHost(url: URL, selfOrigin: string): boolean {
  const self = new URL(selfOrigin);
  return url.hostname === self.hostname && url.port === self.port;
}

/** A body sent over the dev server's hot-reload socket (same host and port as the page). */
export function isDevServerSend(record: SendRecord, selfOrigin: string): boolean {
  if (record.channel !== 'websocket' || record.protocol === undefined || !DEV_SERVER_SOCKET_PROTOCOLS.includes(record.protocol)) return false;
  try {
    const url = new URL(record.url, selfOrigin);
    return (url.protocol === 'ws:' || url.protocol === 'wss:') && sameHost(url, selfOrigin);
  } catch {
    return false;
  }
}

/** A module request the dev server answers (its client, pre-bundled deps, a source file). */
export function isDevServerRequest(url: string, selfOrigin: string): boolean {
  try {
    const u = new URL(url, selfOrigin);
    if (u.origin !== new URL(selfOrigin).origin) return false;
    return MODULE_PATH.test(u.pathname) || MODULE_QUERY.test(u.search);
  } catch {
    return false;
  }
}
