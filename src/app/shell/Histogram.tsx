// Score histogram (SVG) with the threshold drawn on it; optional second series for comparison.

export interface HistogramSeries {
  readonly label: string;
  readonly values: readonly number[];
  readonly className: string;
}

export function Histogram({ series, threshold, bins = 30, width = 560, height = 180, label }: {
  series: readonly HistogramSeries[];
  threshold: number | null;
  bins?: number;
  width?: number;
  height?: number;
  label: string;
}) {
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  if (all.length === 0) return null;
  const pad = { l: 40, r: 10, t: 10, b: 30 };
  let lo = Math.min(...all, threshold ?? Infinity);
  let hi = Math.max(...all, threshold ?? -Infinity);
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  const w = (hi - lo) / bins;
  const counts = series.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s.values) if (Number.isFinite(v)) c[Math.min(bins - 1, Math.floor((v - lo) / w))]!++;
    return c;
  });
  const max = Math.max(1, ...counts.flat());
  const bw = (width - pad.l - pad.r) / bins;
  const sx = (v: number) => pad.l + ((v - lo) / (hi - lo)) * (width - pad.l - pad.r);
  const sy = (c: number) => height - pad.b - (c / max) * (height - pad.t - pad.b);
  return (
    <figure className="histogram">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label} data-testid="histogram">
        {counts.map((c, si) =>
          c.map((n, i) =>
            n > 0 ? (
              <rect key={`${si}-${i}`} x={pad.l + i * bw + (si * bw) / series.length} y={sy(n)} width={Math.max(1, bw / series.length - 1)} height={height - pad.b - sy(n)} className={series[si]!.className}>
                <title>{`${series[si]!.label}: ${n} in [${(lo + i * w).toPrecision(3)}, ${(lo + (i + 1) * w).toPrecision(3)})`}</title>
              </rect>
            ) : null,
          ),
        )}
        <line x1={pad.l} y1={height - pad.b} x2={width - pad.r} y2={height - pad.b} className="chart-axis" />
        <text x={pad.l} y={height - 10} className="chart-label">{lo.toPrecision(3)}</text>
        <text x={width - pad.r} y={height - 10} textAnchor="end" className="chart-label">{hi.toPrecision(3)}</text>
        <text x={pad.l - 4} y={pad.t + 8} textAnchor="end" className="chart-label">{max}</text>
        {threshold !== null && (
          <g>
            <line x1={sx(threshold)} x2={sx(threshold)} y1={pad.t} y2={height - pad.b} className="threshold-line" />
            {/* Label on whichever side of the line has room. */}
            <text x={sx(threshold) + (sx(threshold) > width * 0.7 ? -4 : 4)} y={pad.t + 10} textAnchor={sx(threshold) > width * 0.7 ? 'end' : 'start'} className="chart-label">
              τ = {threshold.toPrecision(4)}
            </text>
          </g>
        )}
      </svg>
      {series.length > 1 && (
        <figcaption className="legend">
          {series.map((s) => (
            <span key={s.label}><span className={`swatch ${s.className}`} aria-hidden="true" /> {s.label}</span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}
