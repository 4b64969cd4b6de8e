// `window.dedeDebug`: a small console/automation handle onto the live backend (the e2e tests use
// it to run models they build). It exposes nothing the UI cannot already do.
import * as Comlink from 'comlink';
import type { Feeds, Fetches } from '../../../workers/model-api';
import { getBackend } from './backend-service';

export interface DedeDebugHandle {
  backendInfo(): Promise<unknown>;
  runModel(bytes: Uint8Array, feeds: Feeds): Promise<Fetches>;
}

declare global {
  interface Window {
    dedeDebug?: DedeDebugHandle;
  }
}

export function installDebugHandle(): void {
  window.dedeDebug = {
    async backendInfo() {
      const backend = await getBackend();
      return { ...backend.info, fallbackReason: backend.fallbackReason };
    },
    async runModel(bytes, feeds) {
      const { api } = await getBackend();
      const copy = bytes.slice();
      const model = await api.loadModel(Comlink.transfer(copy, [copy.buffer]));
      try {
        return await api.run(model.id, feeds);
      } finally {
        await api.release(model.id);
      }
    },
  };
}
