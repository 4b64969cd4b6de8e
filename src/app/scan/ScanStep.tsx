import { useMutation } from '@tanstack/react-query';
import { formatDuration } from '../shell/ProgressBar';
import { useAppStore } from '../store';
import { useImagesStore } from '../images/images-store';
import { ROLE_LABEL } from '../../core/images/dataset';
import { describeCollapseGate } from '../../core/dede/set-scan';
import { cancelScan, runScan, scanProblems, scanTargets } from './scan-service';
import { useScanStore } from './scan-store';
import { offersResume } from './scan-resume';

export function ScanStep() {
  useImagesStore((s) => s.datasets);
  useScanStore((s) => s.calibration);
  const scan = useScanStore((s) => s.scan);
  const setStep = useAppStore((s) => s.setStep);
  const start = useMutation({ mutationFn: (resume: boolean) => runScan(resume) });
  const problems = scanProblems();
  const targets = scanTargets();
  const active = scan?.status === 'scanning';
  const canResume = offersResume(scan);
  const rate = scan && scan.seconds > 0 ? scan.done / scan.seconds : null;
  return (
    <div className="stack">
      <p className="lead">Every image of the suspect (and known-poisoned) folders is scored; images above the threshold are flagged. Results appear in Review as they come.</p>
      {problems.length > 0 && (
        <section className="card">
          <h3>Before scanning</h3>
          <ul className="needs">{problems.map((p) => <li key={p}>○ {p}</li>)}</ul>
        </section>
      )}
      <section className="card" aria-labelledby="scan-what">
        <h3 id="scan-what">Folders to scan</h3>
        {targets.length === 0 ? <p className="muted">No suspect folder yet.</p> : (
          <ul>{targets.map((d) => <li key={d.id}>{d.name} — {d.counts.images.toLocaleString()} images ({ROLE_LABEL[d.role]})</li>)}</ul>
        )}
        <div className="row">
          {canResume && (
            <button type="button" className="button" disabled={problems.length > 0 || start.isPending} onClick={() => start.mutate(true)}>
              Resume scan ({scan.done.toLocaleString()} of {scan.total.toLocaleString()} done)
            </button>
          )}
          <button type="button" className={canResume ? 'button ghost' : 'button'} disabled={problems.length > 0 || active || start.isPending} onClick={() => start.mutate(false)}>
            {scan ? 'Scan again' : 'Scan'}
          </button>
          {active && <button type="button" className="button ghost" onClick={() => void cancelScan()}>Cancel</button>}
          {start.error && <span className="error" role="alert">{start.error.message}</span>}
        </div>
      </section>
      {scan && (
        <section className="card" aria-labelledby="scan-status" data-testid="scan" data-status={scan.status}>
          <h3 id="scan-status">{{ scanning: 'Scanning', done: 'Scan finished', cancelled: 'Scan cancelled', failed: 'Scan failed', interrupted: 'Scan interrupted (page reloaded)' }[scan.status]}</h3>
          {active && scan.embedding && (
            <div className="progress" role="status" aria-live="polite" data-testid="scan-embedding">
              <progress max={scan.embedding.total} value={scan.embedding.done} aria-label="Embedding progress" />
              <div className="progress-facts">
                <span>Embedding “{scan.embedding.folder}”: {scan.embedding.done.toLocaleString()} of {scan.embedding.total.toLocaleString()} images</span>
                <span>{scan.embedding.etaSeconds !== null ? `${formatDuration(scan.embedding.etaSeconds)} left` : ''}</span>
              </div>
            </div>
          )}
          {active && !scan.embedding && (
            <div className="progress" role="status" aria-live="polite">
              <progress max={scan.total} value={scan.done} aria-label="Scan progress" />
              <div className="progress-facts">
                <span>{scan.done.toLocaleString()} of {scan.total.toLocaleString()} images · {Math.floor((scan.done / Math.max(1, scan.total)) * 100)}%</span>
                <span>{rate ? `${rate.toFixed(0)} images/s · ${formatDuration((scan.total - scan.done) / rate)} left` : ''}</span>
              </div>
            </div>
          )}
          <div className="metric-row">
            <div className="metric"><strong data-testid="scan-done">{scan.done.toLocaleString()}</strong><span>scanned</span></div>
            <div className="metric">
              <strong data-testid="scan-flagged">{scan.flagged.toLocaleString()}</strong>
              <span>{scan.verdict?.kind === 'fused' ? `flagged at a ${(scan.verdict.targetFpr * 100).toFixed(1)}% false-positive rate` : `flagged (decoder score > τ = ${scan.threshold.toPrecision(4)})`}</span>
            </div>
            <div className="metric"><strong>{formatDuration(scan.seconds)}</strong><span>time</span></div>
          </div>
          {scan.verdict?.kind === 'fused' && (
            <p className="hint" data-testid="scan-verdict">
              One verdict per image: the decoder’s reconstruction score and the set-level collapse score (how close an image’s embedding sits to its{' '}
              {scan.verdict.k} nearest scanned images, against {scan.verdict.referenceImages} clean reference images), each a calibrated p-value, combined
              (weighted Bonferroni) at the target rate.{scan.verdict.gate ? ` ${describeCollapseGate(scan.verdict.gate)}` : ''}
            </p>
          )}
          {scan.verdict?.kind === 'decoder' && scan.verdict.note && <p className="notice" data-testid="scan-verdict">{scan.verdict.note}</p>}
          {scan.error && <p className="error" role="alert">{scan.error}</p>}
          {scan.status === 'interrupted' && (
            <p className="notice" data-testid="scan-interrupted">
              The page was reloaded during the scan. {scan.done > 0 ? `The ${scan.done.toLocaleString()} images scored before it are kept; Resume scan scores the other ${(scan.total - scan.done).toLocaleString()}.` : 'Nothing was saved yet; scan again.'}
            </p>
          )}
          {(scan.status === 'done' || active) && (
            <div className="row">
              <button type="button" className="button" onClick={() => setStep('review')}>Review results</button>
            </div>
          )}
        </section>
      )}
    </div>
  );
}
