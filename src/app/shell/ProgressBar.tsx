import { formatBytes } from '../../core/hub/download';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export interface ByteProgressProps {
  readonly label: string;
  readonly loaded: number;
  readonly total: number | null;
  readonly bytesPerSecond: number;
  readonly etaSeconds: number | null;
  readonly onCancel?: () => void;
}

/** A labelled progress bar for byte transfers: bytes, %, speed and ETA, with cancel. */
export function ByteProgress({ label, loaded, total, bytesPerSecond, etaSeconds, onCancel }: ByteProgressProps) {
  const pct = total ? Math.min(100, (loaded / total) * 100) : null;
  return (
    <div className="progress" data-testid="download-progress">
      <div className="progress-head">
        <span className="progress-label">{label}</span>
        {onCancel && (
          <button type="button" className="button ghost small" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
      <progress max={total ?? undefined} value={total ? loaded : undefined} aria-label={`Downloading ${label}`} />
      <div className="progress-facts">
        <span>
          {formatBytes(loaded)}
          {total !== null ? ` of ${formatBytes(total)}` : ''}
          {pct !== null ? ` · ${pct.toFixed(0)}%` : ''}
        </span>
        <span>
          {formatBytes(bytesPerSecond)}/s{etaSeconds !== null ? ` · ${formatDuration(etaSeconds)} left` : ''}
        </span>
      </div>
    </div>
  );
}
