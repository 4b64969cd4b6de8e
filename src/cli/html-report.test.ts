// The CLI's HTML report digest: the bounded top list and the streamed histogram against references.
import { describe, expect, it } from 'vitest';
import { histogramBins } from '../core/report/charts';
import type { ScannedImage } from '../core/report/scan-report';
import { ReportDigest, ScoreRange, TopRows, verdictThreshold } from './html-report';

const image = (path: string, score: number, flagged = true): ScannedImage => ({ path, score, dedeScore: 0, pValue: 0.5, flagged });

function seeded(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('CLI HTML report digest', () => {
  it('keeps the k best rows of a stream, best first, ties by path, whatever the order', () => {
    const rand = seeded(5);
    // Scores on a coarse grid so that ties happen.
    const rows = Array.from({ length: 500 }, (_, i) => ({ image: image(`img-${String(i).padStart(3, '0')}.png`, Math.round(rand() * 40) / 4) }));
    const reference = [...rows].sort((a, b) => b.image.score - a.image.score || (a.image.path < b.image.path ? -1 : 1)).slice(0, 24);
    for (const order of [rows, [...rows].reverse()]) {
      const top = new TopRows(24);
      for (const r of order) top.offer(r);
      expect(top.sorted().map((r) => r.image.path)).toEqual(reference.map((r) => r.image.path));
    }
    const few = new TopRows(24);
    rows.slice(0, 3).forEach((r) => few.offer(r));
    expect(few.sorted()).toHaveLength(3);
  });

  it('counts a stream in chunks into the histogram of the whole, and lists flagged rows only', () => {
    const rand = seeded(9);
    const scores = Array.from({ length: 1000 }, () => rand() * 6 - 1);
    const range = new ScoreRange();
    scores.forEach((s) => range.add(s));
    range.add(Number.NaN);
    const threshold = verdictThreshold('fused', 0.05, 0.3);
    expect(threshold).toBeCloseTo(1.30103, 5);
    expect(verdictThreshold('decoder', 0.05, 0.3)).toBe(0.3);
    const r = range.range(threshold);
    const digest = new ReportDigest(r, threshold);
    for (let i = 0; i < scores.length; i += 128) digest.add(scores.slice(i, i + 128).map((s, k) => ({ image: image(`x${i + k}.png`, s, s > threshold) })));
    const whole = histogramBins([scores], 30, r);
    const bars = [...digest.histogramSvg().matchAll(/<title>scanned images: (\d+)<\/title>/g)].map((m) => Number(m[1]));
    expect(bars).toEqual([...whole.counts[0]!].filter((n) => n > 0));
    expect(bars.reduce((a, b) => a + b, 0)).toBe(1000);
    const top = digest.topRows();
    expect(top).toHaveLength(24);
    expect(top.every((t) => t.image.flagged)).toBe(true);
    expect(top[0]!.image.score).toBe(Math.max(...scores));
  });
});
