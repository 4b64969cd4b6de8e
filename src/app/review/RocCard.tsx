// Detection quality when labels are known: ROC curve (SVG), AUROC, TPR/FPR at τ, confusion counts.
import { useMemo } from 'react';
import { auroc, confusionAt, rocCurve } from '../../core/dede/metrics';
import { rocPath } from '../../core/report/charts';
import type { ScanRow, Tag } from '../scan/scan-store';
import { evaluationSet, LABEL_DEFINITION, type NegativesMode } from './review-model';
import { useReviewStore } from './review-store';

const SIZE = 240;
const PAD = 40;

export function useEvaluation(rows: readonly ScanRow[], tags: Readonly<Record<string, Tag>>, mode: NegativesMode, threshold: number) {
  const set = useMemo(() => evaluationSet(rows, tags, mode), [rows, tags, mode]);
  const curve = useMemo(() => {
    if (set.positives === 0 || set.negatives === 0) return null;
    // Thin very long curves for drawing; the AUROC is exact from all points.
    const points = rocCurve(set.scores, set.labels);
    const step = Math.max(1, Math.floor(points.length / 1000));
    return { auc: auroc(set.scores, set.labels), points: points.filter((_, i) => i % step === 0 || i === points.length - 1) };
  }, [set]);
  const confusion = useMemo(() => (curve ? confusionAt(set.scores, set.labels, threshold) : null), [curve, set, threshold]);
  return { set, curve, confusion };
}

const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)}%`);

export function RocCard({ rows, tags, threshold }: { rows: readonly ScanRow[]; tags: Readonly<Record<string, Tag>>; threshold: number }) {
  const mode = useReviewStore((s) => s.negatives);
  const setMode = useReviewStore((s) => s.setNegatives);
  const { set, curve, confusion } = useEvaluation(rows, tags, mode, threshold);
  return (
    <section className="card" aria-labelledby="roc-title" data-testid="roc-card">
      <h3 id="roc-title">Detection quality (known labels)</h3>
      <label className="field-inline">
        Negatives
        <select className="select" value={mode} onChange={(e) => setMode(e.target.value as NegativesMode)}>
          <option value="suspect">suspect-folder images not tagged poisoned</option>
          <option value="tagged">only images tagged clean</option>
        </select>
      </label>
      <p className="hint" data-testid="label-definition">{LABEL_DEFINITION[mode]}</p>
      {!curve || !confusion ? (
        <p className="muted">
          {set.hasPoisonedFolder ? '' : 'No known-poisoned folder was scanned. '}ROC and AUROC need both positives ({set.positives}) and negatives ({set.negatives}): add a
          known-poisoned folder in the Images step, or tag images with f (poisoned) and c (clean).
        </p>
      ) : (
        <div className="roc-layout">
          <svg viewBox={`0 0 ${SIZE + PAD + 10} ${SIZE + 44}`} className="roc-svg" role="img" aria-label={`ROC curve, AUROC ${curve.auc.toFixed(3)}`} data-testid="roc-curve">
            <rect x={PAD} y={10} width={SIZE} height={SIZE} className="roc-box" />
            <line x1={PAD} y1={10 + SIZE} x2={PAD + SIZE} y2={10} className="roc-chance" />
            <path d={rocPath(curve.points, { x: PAD, y: 10, size: SIZE })} className="chart-line" />
            {confusion.fpr !== null && confusion.tpr !== null && (
              <circle cx={PAD + confusion.fpr * SIZE} cy={10 + (1 - confusion.tpr) * SIZE} r={5} className="roc-point"><title>at τ</title></circle>
            )}
            <text x={PAD + SIZE / 2} y={SIZE + 40} textAnchor="middle" className="chart-label">false-positive rate</text>
            <text x={12} y={10 + SIZE / 2} textAnchor="middle" className="chart-label" transform={`rotate(-90 12 ${10 + SIZE / 2})`}>true-positive rate</text>
            <text x={PAD - 4} y={18} textAnchor="end" className="chart-label">1</text>
            <text x={PAD - 4} y={10 + SIZE} textAnchor="end" className="chart-label">0</text>
            <text x={PAD + SIZE} y={SIZE + 24} textAnchor="end" className="chart-label">1</text>
          </svg>
          <div>
            <div className="metric-row">
              <div className="metric"><strong data-testid="auroc">{curve.auc.toFixed(3)}</strong><span>AUROC</span></div>
              <div className="metric"><strong data-testid="tpr">{pct(confusion.tpr)}</strong><span>TPR at τ</span></div>
              <div className="metric"><strong data-testid="fpr">{pct(confusion.fpr)}</strong><span>FPR at τ</span></div>
            </div>
            <table className="table confusion" aria-label="Confusion counts at τ">
              <thead><tr><th scope="col" /><th scope="col">Flagged</th><th scope="col">Not flagged</th></tr></thead>
              <tbody>
                <tr><th scope="row">Positives ({set.positives})</th><td data-testid="tp">{confusion.tp} TP</td><td>{confusion.fn} FN</td></tr>
                <tr><th scope="row">Negatives ({set.negatives})</th><td>{confusion.fp} FP</td><td>{confusion.tn} TN</td></tr>
              </tbody>
            </table>
          </div>
        </div>
      )}
    </section>
  );
}
