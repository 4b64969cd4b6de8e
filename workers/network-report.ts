// Imported first by each worker entry: reports this worker's network use to the page's ledger
// (src/app/privacy/network-guard.ts), so "0 bytes sent" covers the workers too.
import { channelSink, NETWORK_CHANNEL, watchNetwork } from '../src/core/privacy/network-watch';

watchNetwork(channelSink(new BroadcastChannel(NETWORK_CHANNEL)));
