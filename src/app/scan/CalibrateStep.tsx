import { formatDuration } from '../shell/ProgressBar';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { CalibrationMethod } from '../../core/dede/calibrate';
import { Histogram } from '../shell/Histogram';
import { useAppStore } from '../store';
import { useEncoderStore } from '../encoder/encoder-store';
import { useImagesStore } from '../images/images-store';
import { useTrainStore } from '../train/train-store';
import { cancelCalibration, calibrationProblems, changeMethod, runCalibration, CALIBRATION_CHECK_FRACTION } from './scan-service';
import { isCancelled } from '../../core/runtime/cancel';
import { useScanStore } from './scan-store';

export function CalibrateStep() {
  useEncoderStore((s) => s.encoder);
  useImagesStore((s) => s.datasets);
  const run = useTrainStore((s) => s.run);
  const calibration = useScanStore((s) => s.calibration);
  const progress = useScanStore((s) => s.calibrating);
  const setStep = useAppStore((s) => s.setStep);
  const [method, setMethod] = useState<CalibrationMethod>(calibration?.method ?? { method: 'fpr', target: 0.05 });
  const score = useMutation({ mutationFn: () => runCalibration(method) });
  const problems = calibrationProblems();
  const stale = calibration && run && calibration.runId !== run.runId;
  const update = (m: CalibrationMethod) => {
    setMethod(m);
    changeMethod(m);
  };
  return (
    <div className="stack">
      <p className="lead">
        The clean images held back from training are scored to set the flagging threshold τ: by a target false-positive rate (the
        clean-score quantile, with a finite-sample correction) or as mean + k·σ. A part of them is kept aside to show the false-positive rate
        actually reached.
      </p>
      {problems.length > 0 && (
        <section className="card">
          <h3>Before calibrating</h3>
          <ul className="needs">{problems.map((p) => <li key={p}>○ {p}</li>)}</ul>
        </section>
      )}
      <section className="card" aria-labelledby="cal-method">
        <h3 id="cal-method">Threshold</h3>
        <fieldset className="field">
          <legend>Choose τ by</legend>
          <label className="radio">
            <input type="radio" name="cal-method" checked={method.method === 'fpr'} onChange={() => update({ method: 'fpr', target: method.method === 'fpr' ? method.target : 0.05 })} />
            <span>Target false-positive rate</span>
            {method.method === 'fpr' && (
              <input
                type="number" className="text-input small-input" aria-label="Target false-positive rate (%)" min={0.1} max={50} step={0.5}
                value={+(method.target * 100).toFixed(2)}
                onChange={(e) => e.target.value !== '' && update({ method: 'fpr', target: Math.min(0.5, Math.max(0.001, Number(e.target.value) / 100)) })}
              />
            )}
            {method.method === 'fpr' && <span>%</span>}
          </label>
          <label className="radio">
            <input type="radio" name="cal-method" checked={method.method === 'sigma'} onChange={() => update({ method: 'sigma', k: 3 })} />
            <span>Mean + k·σ of clean scores</span>
            {method.method === 'sigma' && (
              <input type="number" className="text-input small-input" aria-label="k" step={0.5} value={method.k} onChange={(e) => e.target.value !== '' && update({ method: 'sigma', k: Number(e.target.value) })} />
            )}
          </label>
        </fieldset>
        <div className="row">
          <button type="button" className="button" disabled={problems.length > 0 || score.isPending} onClick={() => score.mutate()}>
            {calibration ? 'Score the clean images again' : `Score ${run?.heldOutSlots.length ?? ''} held-back clean images`}
          </button>
          {progress && (
            <span role="status">
              {progress.phase === 'embed' ? 'Embeddings' : 'Scoring'} {progress.done} of {progress.total}…{progress.etaSeconds !== null ? ` ${formatDuration(progress.etaSeconds)} left` : ''}
            </span>
          )}
          {score.isPending && <button type="button" className="button ghost" onClick={cancelCalibration}>Cancel</button>}
          {score.error && (isCancelled(score.error) ? <span className="muted">Cancelled; the previous calibration is kept.</span> : <span className="error" role="alert">{score.error.message}</span>)}
        </div>
      </section>
      {calibration && (
        <section className="card" aria-labelledby="cal-result" data-testid="calibration">
          <h3 id="cal-result">Calibration{stale ? ' (for an older decoder: score again)' : ''}</h3>
          <div className="metric-row">
            <div className="metric"><strong data-testid="threshold">{calibration.calibration.threshold.toPrecision(5)}</strong><span>threshold τ</span></div>
            <div className="metric"><strong>{calibration.calibration.n}</strong><span>clean scores</span></div>
            {calibration.heldOut ? (
              <div className="metric">
                <strong data-testid="realised-fpr">{(calibration.heldOut.fpr * 100).toFixed(1)}%</strong>
                <span>realised FPR on {calibration.heldOut.n} kept-aside clean images ({calibration.heldOut.falsePositives} flagged)</span>
              </div>
            ) : (
              <div className="metric">
                <strong data-testid="realised-fpr">n/a</strong>
                <span>too few clean scores to also measure the realised FPR: hold back more clean images</span>
              </div>
            )}
            {calibration.method.method === 'fpr' && <div className="metric"><strong>{(calibration.method.target * 100).toFixed(1)}%</strong><span>target FPR</span></div>}
          </div>
          <Histogram label={`Clean calibration scores with threshold ${calibration.calibration.threshold.toPrecision(4)}`} series={[{ label: 'clean', values: calibration.cleanScores, className: 'bar-clean' }]} threshold={calibration.calibration.threshold} />
          <p className="hint">
            Scores are the median of per-patch reconstruction errors at mask ratio 0.99, robust to small local triggers. τ uses every clean
            score; the realised rate refits τ on {100 - Math.round(CALIBRATION_CHECK_FRACTION * 100)}% of them and counts false positives on the rest.
          </p>
          <div className="row">
            <button type="button" className="button" onClick={() => setStep('scan')}>Next: scan</button>
          </div>
        </section>
      )}
    </div>
  );
}
