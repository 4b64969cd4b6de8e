// Where a shared trigger sits: the mean error map of flagged images minus that of unflagged ones.
import { useMutation } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { triggerMapDisplay, viridisGradient } from '../../core/report/image-maps';
import type { ScanRow } from '../scan/scan-store';
import { PixelCanvas } from './PixelCanvas';
import { computeTriggerMap, TRIGGER_MAP_N } from './review-service';
import { useReviewStore } from './review-store';

export function TriggerMapCard({ scanId, rows, threshold }: { scanId: string; rows: readonly ScanRow[]; threshold: number }) {
  const map = useReviewStore((s) => s.triggerMap);
  const setMap = useReviewStore((s) => s.setTriggerMap);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  // Leaving the view stops the worker's explain jobs.
  const controller = useRef<AbortController | null>(null);
  useEffect(() => () => controller.current?.abort(), []);
  const run = useMutation({
    mutationFn: async () => {
      controller.current = new AbortController();
      try {
        setMap(await computeTriggerMap(scanId, rows, threshold, TRIGGER_MAP_N, (done, total) => setProgress({ done, total }), controller.current.signal));
      } finally {
        setProgress(null);
      }
    },
  });
  const current = map && map.scanId === scanId ? map : null;
  const view = useMemo(() => (current ? triggerMapDisplay(current) : null), [current]);
  return (
    <section className="card" aria-labelledby="trigger-title" data-testid="trigger-map-card">
      <h3 id="trigger-title">Trigger map</h3>
      <p className="hint">
        Mean per-pixel reconstruction error of up to {TRIGGER_MAP_N} flagged images (highest scores) minus that of up to {TRIGGER_MAP_N} unflagged
        ones, computed in the worker. A bright compact spot shows where a shared patch trigger sits; a flat map suggests no common location.
      </p>
      <div className="row">
        <button type="button" className="button" disabled={run.isPending} onClick={() => run.mutate()}>
          {current ? 'Compute again' : 'Compute trigger map'}
        </button>
        {progress && <span role="status">{progress.done} of {progress.total} images…</span>}
        {run.error && <span className="error" role="alert">{run.error.message}</span>}
      </div>
      {current && view && (
        <div className="trigger-layout" data-testid="trigger-map">
          <figure>
            <PixelCanvas rgba={view.rgba} size={current.side} label={`Trigger map: flagged minus unflagged mean error; strongest at row ${view.peak.y}, column ${view.peak.x}`} className="px-canvas big" />
            <figcaption>
              Flagged ({current.flaggedN}) − unflagged ({current.unflaggedN}); peak at row {view.peak.y}, column {view.peak.x}
              {current.threshold !== threshold ? ` · computed at τ = ${current.threshold.toPrecision(4)}, compute again for the current τ` : ''}
            </figcaption>
          </figure>
          <span className="colorbar" role="img" aria-label={`viridis colour map from 0 to ${view.max.toPrecision(3)}; negative differences shown as 0`}>
            <span>0</span><span className="legend-bar" style={{ background: `linear-gradient(to right, ${viridisGradient()})` }} /><span>{view.max.toPrecision(3)}</span>
          </span>
        </div>
      )}
    </section>
  );
}
