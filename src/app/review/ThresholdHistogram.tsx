// Score histogram with a draggable, keyboard-adjustable threshold (a slider on the τ line). The
// bars are computed once per data change; dragging only moves the line.
import { useMemo, useRef, type KeyboardEvent, type PointerEvent } from 'react';
import { histogramBins, valueRange } from '../../core/report/charts';
import { clamp, thresholdStep } from './review-model';

export interface ThresholdSeries {
  readonly label: string;
  readonly values: ArrayLike<number>;
  readonly className: string;
}

const W = 640;
const H = 200;
const PAD = { l: 44, r: 12, t: 16, b: 30 };

export function ThresholdHistogram({ series, threshold, calibrated, onChange, label, bins: maxBins = 40 }: {
  series: readonly ThresholdSeries[];
  threshold: number;
  calibrated: number;
  onChange: (value: number) => void;
  label: string;
  bins?: number;
}) {
  const svgRef = useRef<SVGSVGElement>(null);
  const frame = useRef<number | null>(null);
  const pending = useRef<number | null>(null);
  // About √n bins (10–maxBins): few images get wide, readable bars.
  const bins = useMemo(() => Math.max(10, Math.min(maxBins, Math.round(Math.sqrt(series.reduce((a, s) => a + s.values.length, 0))))), [series, maxBins]);
  const range = useMemo(() => valueRange(series.map((s) => s.values), [calibrated]), [series, calibrated]);
  const b = useMemo(() => (range ? histogramBins(series.map((s) => s.values), bins, range) : null), [series, bins, range]);
  const bars = useMemo(() => {
    if (!b) return null;
    const bw = (W - PAD.l - PAD.r) / bins;
    const sy = (c: number) => H - PAD.b - (c / b.max) * (H - PAD.t - PAD.b);
    return b.counts.map((c, si) =>
      Array.from(c, (n, i) =>
        n > 0 ? (
          <rect key={`${si}-${i}`} x={PAD.l + i * bw + (si * bw) / series.length} y={sy(n)} width={Math.max(1, bw / series.length - 1)} height={H - PAD.b - sy(n)} className={series[si]!.className}>
            <title>{`${series[si]!.label}: ${n} in [${(b.lo + i * b.width).toPrecision(3)}, ${(b.lo + (i + 1) * b.width).toPrecision(3)})`}</title>
          </rect>
        ) : null,
      ),
    );
  }, [b, bins, series]);
  if (!range || !b) return null;
  const { lo, hi } = range;
  const sx = (v: number) => PAD.l + ((v - lo) / (hi - lo)) * (W - PAD.l - PAD.r);
  const fromClientX = (clientX: number): number => {
    const rect = svgRef.current!.getBoundingClientRect();
    const x = ((clientX - rect.left) / rect.width) * W;
    return clamp(lo + ((x - PAD.l) / (W - PAD.l - PAD.r)) * (hi - lo), lo, hi);
  };
  // Coalesce pointer moves to one store update per frame.
  const push = (v: number) => {
    pending.current = v;
    frame.current ??= requestAnimationFrame(() => {
      frame.current = null;
      if (pending.current !== null) onChange(pending.current);
    });
  };
  const onPointerDown = (e: PointerEvent<SVGSVGElement>) => {
    if (e.button !== 0) return;
    svgRef.current!.setPointerCapture(e.pointerId);
    push(fromClientX(e.clientX));
    (svgRef.current!.querySelector('[role="slider"]') as SVGGElement | null)?.focus();
    e.preventDefault();
  };
  const onPointerMove = (e: PointerEvent<SVGSVGElement>) => {
    if (svgRef.current!.hasPointerCapture(e.pointerId)) push(fromClientX(e.clientX));
  };
  const onKeyDown = (e: KeyboardEvent<SVGGElement>) => {
    const big = e.key === 'PageUp' || e.key === 'PageDown' || e.shiftKey;
    const step = thresholdStep(lo, hi, big);
    let v: number | null = null;
    if (e.key === 'ArrowRight' || e.key === 'ArrowUp' || e.key === 'PageUp') v = threshold + step;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowDown' || e.key === 'PageDown') v = threshold - step;
    else if (e.key === 'Home') v = lo;
    else if (e.key === 'End') v = hi;
    if (v === null) return;
    e.preventDefault();
    onChange(clamp(v, lo, hi));
  };
  const tx = sx(clamp(threshold, lo, hi));
  return (
    <figure className="histogram review-histogram">
      <svg
        ref={svgRef} viewBox={`0 0 ${W} ${H}`} data-testid="review-histogram" className="threshold-svg"
        onPointerDown={onPointerDown} onPointerMove={onPointerMove} aria-labelledby="review-hist-label"
      >
        <title id="review-hist-label">{label}</title>
        <rect x={PAD.l} y={PAD.t} width={W - PAD.l - PAD.r} height={H - PAD.t - PAD.b} className="plot-hit" />
        {bars}
        <line x1={PAD.l} y1={H - PAD.b} x2={W - PAD.r} y2={H - PAD.b} className="chart-axis" />
        <text x={PAD.l} y={H - 10} className="chart-label">{lo.toPrecision(3)}</text>
        <text x={W - PAD.r} y={H - 10} textAnchor="end" className="chart-label">{hi.toPrecision(3)}</text>
        <text x={PAD.l - 4} y={PAD.t + 8} textAnchor="end" className="chart-label">{b.max}</text>
        {calibrated !== threshold && <line x1={sx(calibrated)} x2={sx(calibrated)} y1={PAD.t} y2={H - PAD.b} className="calibrated-line"><title>calibrated τ</title></line>}
        <g
          role="slider" tabIndex={0} aria-label="Review threshold τ" aria-valuemin={lo} aria-valuemax={hi} aria-valuenow={threshold}
          aria-valuetext={`τ = ${threshold.toPrecision(4)}`} onKeyDown={onKeyDown} className="threshold-handle" data-testid="threshold-handle"
        >
          <line x1={tx} x2={tx} y1={PAD.t} y2={H - PAD.b} className="threshold-line" />
          <rect x={tx - 7} y={PAD.t - 12} width={14} height={18} rx={3} className="threshold-grip" />
          <text x={tx + 10} y={PAD.t + 4} className="chart-label">τ = {threshold.toPrecision(4)}</text>
        </g>
      </svg>
      <figcaption className="legend">
        {series.map((s) => (
          <span key={s.label}><span className={`swatch ${s.className}`} aria-hidden="true" /> {s.label}</span>
        ))}
        <span><span className="swatch swatch-threshold" aria-hidden="true" /> τ (drag, or focus and use the arrow keys)</span>
      </figcaption>
    </figure>
  );
}
