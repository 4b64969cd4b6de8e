import { applyUpdate, useUpdateStore } from './service-worker-client';

/** Shown when a new version of the app is installed and waiting. */
export function UpdateBanner() {
  const waiting = useUpdateStore((s) => s.waiting);
  if (!waiting) return null;
  return (
    <div className="badge badge-warn" role="status" data-testid="update-ready">
      New version ready
      <button type="button" className="button small" onClick={applyUpdate}>
        Reload
      </button>
    </div>
  );
}
