// Chart geometry shared by the app's SVG components and the HTML report's inline SVG strings.
import { escapeHtml } from './html-escape';

export interface Bins {
  readonly lo: number;
  readonly hi: number;
  readonly width: number;
  /** counts[s][i]: values of series s in bin i. */
  readonly counts: readonly Int32Array[];
  readonly max: number;
}

/** Range of finite values (and extra points, e.g. thresholds); never Math.min(...big array). */
export function valueRange(series: readonly ArrayLike<number>[], extra: readonly number[] = []): { lo: number; hi: number } | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.length; i++) {
      const v = s[i]!;
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === Infinity) return null;
  for (const v of extra) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  if (hi === lo) return { lo: lo - 1, hi: hi + 1 };
  return { lo, hi };
}

/** Adds a chunk of each series' values into fixed bins (same range and bin count): streaming histogramBins. */
export function addToBins(into: Bins, series: readonly ArrayLike<number>[]): Bins {
  const more = histogramBins(series, into.counts[0]?.length ?? 0, into);
  const counts = into.counts.map((c, s) => c.map((n, i) => n + more.counts[s]![i]!));
  let max = 1;
  for (const c of counts) for (const n of c) if (n > max) max = n;
  return { ...into, counts, max };
}

export function histogramBins(series: readonly ArrayLike<number>[], bins: number, range: { lo: number; hi: number }): Bins {
  const { lo, hi } = range;
  const width = (hi - lo) / bins;
  let max = 1;
  const counts = series.map((s) => {
    const c = new Int32Array(bins);
    for (let i = 0; i < s.length; i++) {
      const v = s[i]!;
      if (!Number.isFinite(v) || v < lo || v > hi) continue;
      const b = Math.min(bins - 1, Math.floor((v - lo) / width));
      c[b]!++;
      if (c[b]! > max) max = c[b]!;
    }
    return c;
  });
  return { lo, hi, width, counts, max };
}

const fmt = (v: number): string => (Number.isFinite(v) ? v.toPrecision(4) : String(v));

export interface SvgSeries {
  readonly label: string;
  readonly values: ArrayLike<number>;
  readonly color: string;
}

/** A standalone histogram SVG (inline styles only) with the threshold line. */
export function histogramSvg(series: readonly SvgSeries[], threshold: number | null, opts: { bins?: number; width?: number; height?: number; title: string }): string {
  const range = valueRange(series.map((s) => s.values), threshold === null ? [] : [threshold]);
  if (!range) return '';
  return binsSvg(histogramBins(series.map((s) => s.values), opts.bins ?? 30, range), series, threshold, opts);
}

/**
 * The histogram SVG of bins counted already (one Int32Array per series, in series order): a report
 * streamed over parts counts its scores chunk by chunk into fixed bins (addToBins) and draws them here.
 */
export function binsSvg(b: Bins, series: readonly Pick<SvgSeries, 'label' | 'color'>[], threshold: number | null, opts: { width?: number; height?: number; title: string }): string {
  const { width = 560, height = 200, title } = opts;
  const bins = b.counts[0]?.length ?? 0;
  if (bins === 0) return '';
  const pad = { l: 40, r: 10, t: 10, b: 40 };
  const bw = (width - pad.l - pad.r) / bins;
  const sx = (v: number) => pad.l + ((v - b.lo) / (b.hi - b.lo)) * (width - pad.l - pad.r);
  const sy = (c: number) => height - pad.b - (c / b.max) * (height - pad.t - pad.b);
  const parts: string[] = [];
  b.counts.forEach((c, si) => {
    c.forEach((n, i) => {
      if (n === 0) return;
      const x = pad.l + i * bw + (si * bw) / series.length;
      parts.push(`<rect x="${x.toFixed(1)}" y="${sy(n).toFixed(1)}" width="${Math.max(1, bw / series.length - 1).toFixed(1)}" height="${(height - pad.b - sy(n)).toFixed(1)}" fill="${escapeHtml(series[si]!.color)}"><title>${escapeHtml(`${series[si]!.label}: ${n}`)}</title></rect>`);
    });
  });
  parts.push(`<line x1="${pad.l}" y1="${height - pad.b}" x2="${width - pad.r}" y2="${height - pad.b}" stroke="#888"/>`);
  parts.push(`<text x="${pad.l}" y="${height - pad.b + 14}" font-size="11" fill="#555">${escapeHtml(fmt(b.lo))}</text>`);
  parts.push(`<text x="${width - pad.r}" y="${height - pad.b + 14}" font-size="11" fill="#555" text-anchor="end">${escapeHtml(fmt(b.hi))}</text>`);
  parts.push(`<text x="${pad.l - 4}" y="${pad.t + 8}" font-size="11" fill="#555" text-anchor="end">${b.max}</text>`);
  if (threshold !== null && Number.isFinite(threshold)) {
    const x = sx(threshold).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${pad.t}" y2="${height - pad.b}" stroke="#cc3311" stroke-width="2" stroke-dasharray="5 3"/>`);
    parts.push(`<text x="${(sx(threshold) + 4).toFixed(1)}" y="${pad.t + 10}" font-size="11" fill="#cc3311">τ = ${escapeHtml(fmt(threshold))}</text>`);
  }
  let lx = pad.l;
  for (const s of series) {
    parts.push(`<rect x="${lx}" y="${height - 14}" width="10" height="10" fill="${escapeHtml(s.color)}"/><text x="${lx + 14}" y="${height - 5}" font-size="11" fill="#333">${escapeHtml(s.label)}</text>`);
    lx += 24 + s.label.length * 6.5;
  }
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}"><title>${escapeHtml(title)}</title>${parts.join('')}</svg>`;
}

/** Polyline points of a ROC curve in a box. */
export function rocPath(points: readonly { readonly fpr: number; readonly tpr: number }[], box: { x: number; y: number; size: number }): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${(box.x + p.fpr * box.size).toFixed(1)},${(box.y + (1 - p.tpr) * box.size).toFixed(1)}`).join(' ');
}

export function rocSvg(points: readonly { readonly fpr: number; readonly tpr: number }[], at: { fpr: number; tpr: number } | null, title: string, size = 240): string {
  const pad = 36;
  const box = { x: pad, y: 10, size };
  const w = size + pad + 10;
  const h = size + 10 + 34;
  const parts = [
    `<rect x="${box.x}" y="${box.y}" width="${size}" height="${size}" fill="none" stroke="#888"/>`,
    `<line x1="${box.x}" y1="${box.y + size}" x2="${box.x + size}" y2="${box.y}" stroke="#aaa" stroke-dasharray="4 3"/>`,
    `<path d="${rocPath(points, box)}" fill="none" stroke="#1f4e79" stroke-width="2"/>`,
    `<text x="${box.x + size / 2}" y="${h - 6}" font-size="11" fill="#555" text-anchor="middle">false-positive rate</text>`,
    `<text x="12" y="${box.y + size / 2}" font-size="11" fill="#555" text-anchor="middle" transform="rotate(-90 12 ${box.y + size / 2})">true-positive rate</text>`,
  ];
  if (at) parts.push(`<circle cx="${(box.x + at.fpr * size).toFixed(1)}" cy="${(box.y + (1 - at.tpr) * size).toFixed(1)}" r="5" fill="#cc3311"><title>at τ</title></circle>`);
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${escapeHtml(title)}"><title>${escapeHtml(title)}</title>${parts.join('')}</svg>`;
}
