// First: the security policy and the network ledger must be in place before any other code runs.
import './privacy/document-csp';
import './privacy/network-guard';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { installDebugHandle } from './backend/debug-handle';
import { restartBackend } from './backend/backend-service';
import { restoreScanRows } from './scan/scan-service';
import { followEncoder } from './images/images-service';
import { registerServiceWorker } from './pwa/service-worker-client';
import './styles.css';

const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } } });

installDebugHandle();
// Folders are stored at the loaded encoder's input size, through its own preprocessing.
followEncoder();
// Start the model worker at once: loading ORT and the self-test take a few seconds.
void restartBackend().catch(() => undefined);
// Scan rows live in OPFS (they can be many); bring the last scan back into the review.
void restoreScanRows().catch(() => undefined);
// Offline use: the app works without a service worker, only not offline.
void registerServiceWorker().catch((err: unknown) => console.warn('Offline mode unavailable: the service worker did not register.', err));

const root = document.getElementById('root');
if (!root) throw new Error('index.html lacks #root');
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
