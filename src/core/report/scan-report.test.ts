import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { scanReportCsv, type ScannedImage } from './scan-report';

describe('scanReportCsv', () => {
  it('quotes awkward names and neutralises formula injection', () => {
    const images: ScannedImage[] = [
      { path: 'a/plain.png', score: 0.5, dedeScore: 12.25, pValue: 0.01, flagged: true },
      { path: 'fused.png', score: 2.5, dedeScore: 9, pValue: 0.003, flagged: true, decoderScore: 0.7, decoderPValue: 0.2, collapseScore: 0.99, collapsePValue: 0.001 },
      { path: '=cmd|"/c calc"!A1.png', score: 1, dedeScore: 2, pValue: 0.5, flagged: false },
      { path: 'comma, "quote"\nnewline.png', score: 0.25, dedeScore: 3, pValue: 1, flagged: false },
      { path: '+1.png', score: 0, dedeScore: 0, pValue: 1, flagged: false },
    ];
    const csv = scanReportCsv({ images });
    const parsed = Papa.parse<string[]>(csv, { skipEmptyLines: true }).data;
    expect(parsed[0]).toEqual(['path', 'score', 'pValue', 'flagged', 'dedeScore', 'decoderScore', 'decoderPValue', 'collapseScore', 'collapsePValue']);
    expect(parsed).toHaveLength(6);
    expect(parsed[1]).toEqual(['a/plain.png', '0.5', '0.01', 'true', '12.25', '', '', '', '']);
    // Leading = and + are prefixed with a quote so spreadsheets show them as text.
    expect(parsed[2]).toEqual(['fused.png', '2.5', '0.003', 'true', '9', '0.7', '0.2', '0.99', '0.001']);
    expect(parsed[3]![0]).toBe(`'=cmd|"/c calc"!A1.png`);
    expect(parsed[4]![0]).toBe('comma, "quote"\nnewline.png');
    expect(parsed[5]![0]).toBe(`'+1.png`);
  });
});
