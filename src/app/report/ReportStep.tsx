// Report: downloads of the scan at the review threshold — CSV and versioned JSON (the CLI's
// format), a self-contained HTML report, the cleaned file list and a zip of kept/flagged images.
import { useMutation } from '@tanstack/react-query';
import { useId, useState, type ReactNode } from 'react';
import { CSV_COLUMNS } from '../../core/report/scan-report';
import { useEncoderStore } from '../encoder/encoder-store';
import { useScanStore } from '../scan/scan-store';
import { useAppStore } from '../store';
import { countScoresAbove } from '../review/review-model';
import { effectiveThreshold, useReviewStore } from '../review/review-store';
import { buildHtml, buildImageZip, cleanedListBlob, downloadBlob, HTML_TOP_FLAGGED, reportCsvBlob, reportJsonBlob, TOOL } from './report-service';

export function ReportStep({ fallback }: { fallback: ReactNode }) {
  const scan = useScanStore((s) => s.scan);
  const table = useScanStore((s) => s.table);
  const reviewThreshold = useReviewStore((s) => s.threshold);
  const negatives = useReviewStore((s) => s.negatives);
  const triggerMap = useReviewStore((s) => s.triggerMap);
  const clusters = useReviewStore((s) => s.clusters);
  const encoder = useEncoderStore((s) => s.encoder);
  const setStep = useAppStore((s) => s.setStep);
  const [htmlStatus, setHtmlStatus] = useState<string | null>(null);
  const [zipStatus, setZipStatus] = useState<string | null>(null);
  const threshold = effectiveThreshold(scan, reviewThreshold);
  const base = `dede-scan-${scan?.scanId ?? 'none'}`;
  const html = useMutation({
    mutationFn: async () => {
      try {
        const doc = await buildHtml(threshold!, negatives, triggerMap, clusters, setHtmlStatus);
        downloadBlob(doc, `${base}.html`, 'text/html;charset=utf-8');
      } finally {
        setHtmlStatus(null);
      }
    },
  });
  const zip = useMutation({
    mutationFn: async () => {
      try {
        const blob = await buildImageZip(threshold!, (done, total) => setZipStatus(`${done} of ${total} images…`));
        downloadBlob(blob, `${base}-images.zip`, 'application/zip');
      } finally {
        setZipStatus(null);
      }
    },
  });
  const simple = useMutation({
    mutationFn: async (kind: 'csv' | 'json' | 'list') => {
      if (kind === 'list') downloadBlob(cleanedListBlob(threshold!), `${base}-kept.txt`, 'text/plain;charset=utf-8');
      else if (kind === 'csv') downloadBlob(reportCsvBlob(threshold!), `${base}.csv`, 'text/csv;charset=utf-8');
      else downloadBlob(reportJsonBlob(threshold!), `${base}.json`, 'application/json');
    },
  });
  if (!scan || table.length === 0 || threshold === null) return <>{fallback}</>;
  const flagged = countScoresAbove(table.column('score'), threshold);
  const moved = threshold !== scan.threshold;
  const busy = html.isPending || zip.isPending;
  const error = html.error ?? zip.error ?? simple.error;
  return (
    <div className="stack">
      <p className="lead">Everything is built here in the browser and saved as downloads; nothing is uploaded.</p>
      <section className="card" aria-labelledby="report-summary">
        <h3 id="report-summary">What the reports contain</h3>
        <div className="metric-row">
          <div className="metric"><strong data-testid="report-scanned">{table.length.toLocaleString('en')}</strong><span>images scanned</span></div>
          <div className="metric"><strong data-testid="report-flagged">{flagged.toLocaleString('en')}</strong><span>flagged</span></div>
          <div className="metric"><strong>{threshold.toPrecision(5)}</strong><span>{moved ? `review τ (calibrated ${scan.threshold.toPrecision(5)})` : 'τ (calibrated)'}</span></div>
        </div>
        {moved && (
          <p className="notice">
            The threshold was moved in Review; reports flag images at the review τ. <button type="button" className="link" onClick={() => setStep('review')}>Change it in Review</button>
          </p>
        )}
        {scan.status !== 'done' && <p className="notice">The scan is {scan.status}: reports cover the {table.length} images scored so far.</p>}
        <dl className="facts">
          <dt>Encoder</dt><dd>{encoder?.name ?? 'unknown'} · SHA-256 <code className="hash">{encoder?.sha256 ?? '—'}</code>{encoder?.revision ? ` · revision ${encoder.revision}` : ''}</dd>
          <dt>Decoder</dt><dd>SHA-256 <code className="hash">{scan.decoderSha256}</code></dd>
          <dt>App</dt><dd>{TOOL.name} {TOOL.version}</dd>
        </dl>
      </section>
      <section className="card" aria-labelledby="report-downloads">
        <h3 id="report-downloads">Downloads</h3>
        <ul className="downloads">
          <Download label="Scan report (CSV)" action="Download CSV" hint={`Columns ${CSV_COLUMNS.join(', ')} (component columns stay empty here); cells a spreadsheet would run as formulas are neutralised.`} onClick={() => simple.mutate('csv')} disabled={busy} />
          <Download label="Scan report (JSON)" action="Download JSON" hint="The versioned dede-scan-report document the CLI also writes: models with SHA-256, settings, calibration, every image." onClick={() => simple.mutate('json')} disabled={busy} />
          <Download label="HTML report" action="Download HTML" hint={`One self-contained file: summary, settings, model hashes, histogram and ROC, the top ${HTML_TOP_FLAGGED} flagged images with error heatmaps.`} onClick={() => html.mutate()} disabled={busy} status={htmlStatus} />
          <Download label="Cleaned file list" action="Download list" hint="Paths of the images not flagged, one per line (a name holding a line break is written as a JSON string)." onClick={() => simple.mutate('list')} disabled={busy} />
          <Download label="Images (.zip)" action="Download zip" hint="kept/ and flagged/ folders; images re-encoded as PNG from the stored pixels at working resolution (not the original files)." onClick={() => zip.mutate()} disabled={busy} status={zipStatus} />
        </ul>
        {error && <p className="error" role="alert">{error.message}</p>}
      </section>
    </div>
  );
}

function Download({ label, action, hint, onClick, disabled, status }: { label: string; action: string; hint: string; onClick: () => void; disabled: boolean; status?: string | null }) {
  const hintId = useId();
  return (
    <li className="download-row">
      <div>
        <strong>{label}</strong>
        <p className="hint" id={hintId}>{hint}</p>
      </div>
      <div className="row-tight">
        {status && <span role="status">{status}</span>}
        <button type="button" className="button" onClick={onClick} disabled={disabled} aria-describedby={hintId}>{action}</button>
      </div>
    </li>
  );
}
