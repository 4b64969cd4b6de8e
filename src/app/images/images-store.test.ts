import { describe, expect, it } from 'vitest';
import { interruptLoad, type DatasetSummary } from './images-store';

const folder = {
  id: 'd1', name: 'suspect', role: 'suspect', status: 'loading', layout: { size: 32, chunkSize: 256 }, fit: 'crop', counts: { images: 10 },
  chunks: 1, unreadable: [], duplicates: [], mismatched: [], persistent: true, createdAt: '2026-01-01T00:00:00Z', loadSeconds: null, error: null,
} as unknown as DatasetSummary;

describe('interruptLoad (on reload)', () => {
  it('marks a folder that was loading as interrupted, saying how to finish it', () => {
    const out = interruptLoad(folder);
    expect(out).toEqual({ ...folder, status: 'interrupted', error: 'Loading stopped when the page was closed or reloaded; add the folder again to finish it.' });
  });

  it('leaves other folders as they are', () => {
    for (const status of ['ready', 'cancelled', 'failed', 'interrupted'] as const) {
      const d = { ...folder, status };
      expect(interruptLoad(d)).toBe(d);
    }
  });
});
