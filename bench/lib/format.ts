// Number and table formatting shared by the benches, so their printed reports read alike.
import { cpus, loadavg } from 'node:os';

/** `x` with `digits` decimals; 'n/a' for a missing or NaN value. */
export const fixed = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits));

/** A share as a percentage with `digits` decimals; 'n/a' for a missing or NaN value. */
export const percent = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(digits)}%`);

export const passFail = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');

/** A plain-text table: the first `leftColumns` columns left-aligned (labels), the rest right-aligned (numbers). */
export function table(header: readonly string[], rows: readonly (readonly string[])[], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The 1-minute load average: other processes on the same cores lower every timing. */
export function loadAverage(): number {
  return loadavg()[0] ?? 0;
}

export function loadLine(when: string, load = loadAverage()): string {
  const busy = load > cpus().length - 0.5 ? ' — the machine is busy: treat these numbers as lower bounds' : '';
  return `load average ${when}: ${fixed(load, 2)} on ${cpus().length} CPUs${busy}`;
}
