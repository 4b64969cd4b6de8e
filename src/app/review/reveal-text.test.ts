import { describe, expect, it } from 'vitest';
import { examplesHeadline, examplesScale, otherNearest, shownExamples, shownTitle, targetCaption, type ClusterExamples, type ExamplePhoto } from './reveal-text';

const photo = (slot: number, label: string | null, similarity: number): ExamplePhoto => ({ datasetId: 'd', slot, path: `clean/${label ?? ''}/${slot}.png`, label, similarity });
const scale = { median: 0.82, p95: 0.94, n: 200 };

describe('reveal text', () => {
  const trucks = [photo(1, 'truck', 0.7), photo(2, 'truck', 0.65), photo(3, 'truck', 0.64)];
  const labelled: ClusterExamples = {
    folder: 'clean',
    nearest: [photo(9, 'horse', 0.79), ...trucks],
    labels: [{ label: 'truck', similarity: 0.663, count: 20, nearest: trucks }, { label: 'automobile', similarity: 0.614, count: 20, nearest: [] }],
    scale,
    nearestPercentile: 0.38,
  };

  it('names the top class folder and the runner-up, and shows its photos first', () => {
    expect(examplesHeadline(labelled)).toBe('The encoder sees these photos as “truck”: its 3 nearest “truck” photos sit at similarity 0.66, the next class folder, “automobile”, at 0.61.');
    expect(shownExamples(labelled)).toBe(trucks);
    expect(shownTitle(labelled)).toBe('Nearest “truck” photos');
    // The horse is nearer than any truck: the nearest of all are shown too.
    expect(otherNearest(labelled)).toBe(labelled.nearest);
    expect(otherNearest({ ...labelled, nearest: trucks })).toBeNull();
  });

  it('falls back to the nearest photos of a folder without class folders', () => {
    const flat: ClusterExamples = { ...labelled, labels: [], nearest: [photo(4, null, 0.5)] };
    expect(examplesHeadline(flat)).toMatch(/^The encoder sees these photos as the clean photos below \(from “clean”; put the clean photos in class folders/);
    expect(shownExamples(flat)).toBe(flat.nearest);
    expect(shownTitle(flat)).toBe('Nearest clean photos');
    expect(otherNearest(flat)).toBeNull();
  });

  it('puts the nearest similarity on the clean photos’ own scale', () => {
    expect(examplesScale(labelled)).toBe('Nearest clean photo at similarity 0.79, closer than 38% of 200 clean photos are to their own nearest neighbour (median 0.82, 95th percentile 0.94). Similarity: the cosine after removing the clean photos’ mean embedding.');
    expect(examplesScale({ ...labelled, nearest: [] })).toBe('');
  });

  it('captions the decoded embedding for what it is', () => {
    expect(targetCaption({ contrastRestored: true })).toBe('the cluster’s embedding decoded (contrast matched): a texture, not the target');
    expect(targetCaption({})).toBe('the cluster’s embedding decoded: a texture, not the target');
  });
});
