import { describe, expect, it } from 'vitest';
import { exampleLabel, LABEL_TOP, revealExamples } from './reveal-examples';

const rows = (vectors: readonly (readonly number[])[]) => ({ dim: vectors[0]!.length, data: Float32Array.from(vectors.flat()) });

/** The centred cosine, written out: subtract the reference mean from both, then cosine. */
function centredCosine(a: readonly number[], b: readonly number[], mean: readonly number[]): number {
  const x = a.map((v, i) => v - mean[i]!);
  const y = b.map((v, i) => v - mean[i]!);
  const dot = x.reduce((s, v, i) => s + v * y[i]!, 0);
  return dot / (Math.hypot(...x) * Math.hypot(...y));
}

describe('exampleLabel', () => {
  it('takes the folders between the dropped folder and the file', () => {
    expect(exampleLabel('clean/truck/b1_0407.png')).toBe('truck');
    expect(exampleLabel('imagenet/val/n01440764/x.JPEG')).toBe('val/n01440764');
    expect(exampleLabel('clean/truck_b1_0407.png')).toBeNull();
    expect(exampleLabel('loose.png')).toBeNull();
  });
});

describe('revealExamples', () => {
  // A common offset (as SSL embeddings have) on every row: raw cosines all sit near 1.
  const offset = [10, 10, 10];
  const ref = [
    [1, 0, 0], [0.9, 0.2, 0], [0.8, 0, 0.3], // a
    [0, 1, 0], [0.1, 0.9, 0], // b
    [0, 0, 1], [0, 0.2, 0.9], // c
  ].map((v) => v.map((x, i) => x + offset[i]!));
  const labels = ['a', 'a', 'a', 'b', 'b', 'c', null];
  const mean = [0, 1, 2].map((t) => ref.reduce((s, r) => s + r[t]!, 0) / ref.length);
  const target = [0.95, 0.1, 0.05].map((x, i) => x + offset[i]!);

  it('ranks reference rows by centred cosine to the target', () => {
    const got = revealExamples(Float32Array.from(target), rows(ref), { k: 3 });
    const expected = ref.map((r, i) => ({ index: i, similarity: centredCosine(target, r, mean) })).sort((x, y) => y.similarity - x.similarity).slice(0, 3);
    expect(got.nearest.map((m) => m.index)).toEqual(expected.map((m) => m.index));
    got.nearest.forEach((m, j) => expect(m.similarity).toBeCloseTo(expected[j]!.similarity, 5));
    expect(got.labels).toEqual([]);
  });

  it('ranks labels by the mean similarity of their nearest LABEL_TOP photos', () => {
    const got = revealExamples(Float32Array.from(target), rows(ref), { labels, k: 2 });
    const sims = ref.map((r) => centredCosine(target, r, mean));
    const labelScore = (l: string) => {
      const own = sims.filter((_, i) => labels[i] === l).sort((x, y) => y - x).slice(0, LABEL_TOP);
      return own.reduce((s, v) => s + v, 0) / own.length;
    };
    expect(got.labels.map((l) => l.label)).toEqual(['a', 'b', 'c'].sort((x, y) => labelScore(y) - labelScore(x)));
    for (const l of got.labels) expect(l.similarity).toBeCloseTo(labelScore(l.label), 5);
    expect(got.labels[0]).toMatchObject({ label: 'a', count: 3 });
    expect(got.labels[0]!.nearest.map((m) => labels[m.index])).toEqual(['a', 'a']);
    // The unlabelled row is listed among the nearest but belongs to no label.
    expect(got.labels.reduce((s, l) => s + l.count, 0)).toBe(6);
  });

  it('gives no labels for a single label', () => {
    expect(revealExamples(Float32Array.from(target), rows(ref), { labels: ref.map(() => 'x') }).labels).toEqual([]);
  });

  it('measures how close reference rows sit to their nearest other row, and where the target falls', () => {
    // Rows at 0°, 10°, 90°, 100° around a zero mean (a mirror copy keeps the mean at 0).
    const deg = [0, 10, 90, 100, 180, 190, 270, 280].map((a) => (a * Math.PI) / 180);
    const ring = deg.map((a) => [Math.cos(a), Math.sin(a)]);
    const got = revealExamples(Float32Array.from([1, 0.1]), rows(ring), { k: 1 });
    expect(got.nearest[0]!.index).toBe(1); // 5.7° is nearer 10° than 0°
    expect(got.scale.median).toBeCloseTo(Math.cos((10 * Math.PI) / 180), 6);
    expect(got.scale.n).toBe(8);
    // cos(4.3°) beats every row's nearest neighbour (10° away).
    expect(got.nearestPercentile).toBe(1);
    // A target half-way between two neighbours (45° from each) is farther than any row's neighbour.
    expect(revealExamples(Float32Array.from([Math.cos(Math.PI / 4 + 0.1), Math.sin(Math.PI / 4 + 0.1)]), rows(ring)).nearestPercentile).toBe(0);
  });

  it('samples the scale on a large set, each sampled row against all', () => {
    const many = Array.from({ length: 50 }, (_, i) => [Math.cos(i / 5), Math.sin(i / 5), (i % 3) / 10]);
    expect(revealExamples(Float32Array.from([1, 0, 0]), rows(many), { scaleSample: 10 }).scale.n).toBe(10);
  });

  it('refuses a target or labels that do not fit', () => {
    expect(() => revealExamples(new Float32Array(2), rows(ref))).toThrow(/2-value target for 3-value/);
    expect(() => revealExamples(Float32Array.from(target), rows(ref), { labels: ['a'] })).toThrow(/1 labels for 7 reference photos/);
  });
});
