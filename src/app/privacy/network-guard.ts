// The page's NetworkLedger, fed by the page's own watchers and by every worker of the app (each
// worker entry imports workers/network-report.ts, which posts what it sees on NETWORK_CHANNEL).
import { NetworkLedger } from '../../core/privacy/network-ledger';
import { deliver, NETWORK_CHANNEL, watchNetwork, type NetworkMessage } from '../../core/privacy/network-watch';

// A dev build is served by Vite's dev server, whose hot-reload socket is not the user's data leaving.
export const networkLedger = new NetworkLedger(location.origin, { devServer: import.meta.env.DEV });

watchNetwork(networkLedger);
new BroadcastChannel(NETWORK_CHANNEL).addEventListener('message', (e: MessageEvent<NetworkMessage>) => deliver(networkLedger, e.data));
