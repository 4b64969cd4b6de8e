import type { LossPoint } from '../../core/dede/train-loop';

/**
 * A small SVG line chart of a loss (log-scaled y when it spans a decade or more): the training loss
 * by step, or the held-back loss by epoch (`unit`).
 */
export function LossChart({ points, width = 520, height = 180, unit = 'step', name = 'Training loss', testId = 'loss-chart' }: { points: readonly LossPoint[]; width?: number; height?: number; unit?: 'step' | 'epoch'; name?: string; testId?: string }) {
  if (points.length < 2) return <p className="muted">The {name.toLowerCase()} curve appears after a few {unit}s.</p>;
  const pad = { l: 52, r: 12, t: 10, b: 28 };
  const xs = points.map((p) => p.step);
  const ys = points.map((p) => p.loss).filter((v) => v > 0 && Number.isFinite(v));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [rawMin, rawMax] = [Math.min(...ys), Math.max(...ys)];
  const log = rawMax / Math.max(rawMin, 1e-12) >= 10;
  const f = (v: number) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  const [y0, y1] = [f(rawMin), f(rawMax) === f(rawMin) ? f(rawMin) + 1 : f(rawMax)];
  const sx = (x: number) => pad.l + ((x - x0) / Math.max(1, x1 - x0)) * (width - pad.l - pad.r);
  const sy = (y: number) => pad.t + (1 - (f(y) - y0) / (y1 - y0)) * (height - pad.t - pad.b);
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.step).toFixed(1)},${sy(p.loss).toFixed(1)}`).join(' ');
  const last = points[points.length - 1]!;
  return (
    <svg className="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${name} from ${points[0]!.loss.toFixed(4)} to ${last.loss.toFixed(4)} over ${last.step} ${unit}s`} data-testid={testId}>
      <line x1={pad.l} y1={height - pad.b} x2={width - pad.r} y2={height - pad.b} className="chart-axis" />
      <line x1={pad.l} y1={pad.t} x2={pad.l} y2={height - pad.b} className="chart-axis" />
      <text x={pad.l - 6} y={pad.t + 8} textAnchor="end" className="chart-label">{rawMax.toPrecision(3)}</text>
      <text x={pad.l - 6} y={height - pad.b} textAnchor="end" className="chart-label">{rawMin.toPrecision(3)}</text>
      <text x={pad.l} y={height - 8} className="chart-label">{unit} {x0}</text>
      <text x={width - pad.r} y={height - 8} textAnchor="end" className="chart-label">{unit} {x1}{log ? ' · log scale' : ''}</text>
      <path d={path} className="chart-line" />
    </svg>
  );
}
