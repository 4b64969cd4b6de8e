import { useFaultStore } from '../backend/fault-store';

/** Faults the app met while working (GPU lost, worker crashed, storage full), above the steps. */
export function FaultNotices() {
  const notices = useFaultStore((s) => s.notices);
  const dismiss = useFaultStore((s) => s.dismiss);
  if (notices.length === 0) return null;
  return (
    <div className="fault-notices">
      {notices.map((n) => (
        <div key={n.id} className={`fault-notice ${n.level}`} role="alert" data-testid="fault-notice" data-fault={n.id} data-level={n.level}>
          <p>{n.text}</p>
          <div className="fault-actions">
            {n.reload && (
              <button type="button" className="button" onClick={() => window.location.reload()}>
                Reload the page
              </button>
            )}
            {!n.reload && (
              <button type="button" className="button ghost" onClick={() => dismiss(n.id)} aria-label="Dismiss this notice">
                Dismiss
              </button>
            )}
          </div>
        </div>
      ))}
    </div>
  );
}
