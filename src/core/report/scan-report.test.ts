import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { EQUAL_WEIGHTS } from '../dede/content-score';
import { cleanComponentZ, decoderTrainingRecord, trainingRecordText, componentPValues, componentShares, CSV_COLUMNS, decoderComponentsOf, FORMULA_START, meanComponentShares, reportComponentWeights, scanReportCsv, scanReportCsvParts, scanReportJsonParts, type ScannedImage, type ScanReport } from './scan-report';

describe('scanReportCsv', () => {
  it('quotes awkward names and neutralises formula injection', () => {
    const images: ScannedImage[] = [
      { path: 'a/plain.png', score: 0.5, dedeScore: 12.25, pValue: 0.01, flagged: true },
      { path: 'fused.png', score: 2.5, dedeScore: 9, pValue: 0.003, flagged: true, decoderScore: 0.7, decoderPValue: 0.2, collapseScore: 0.99, collapsePValue: 0.001, semanticZ: 1.5, lowPassZ: -0.25, flipZ: 0.5, medianPatchError: 0.04 },
      { path: '=cmd|"/c calc"!A1.png', score: 1, dedeScore: 2, pValue: 0.5, flagged: false },
      { path: 'comma, "quote"\nnewline.png', score: 0.25, dedeScore: 3, pValue: 1, flagged: false },
      { path: '+1.png', score: 0, dedeScore: 0, pValue: 1, flagged: false },
    ];
    const csv = scanReportCsv({ images });
    const parsed = Papa.parse<string[]>(csv, { skipEmptyLines: true }).data;
    expect(parsed[0]).toEqual(['path', 'score', 'pValue', 'flagged', 'dedeScore', 'decoderScore', 'decoderPValue', 'collapseScore', 'collapsePValue', 'semanticZ', 'lowPassZ', 'flipZ', 'medianPatchError']);
    expect(parsed).toHaveLength(6);
    expect(parsed[1]).toEqual(['a/plain.png', '0.5', '0.01', 'true', '12.25', '', '', '', '', '', '', '', '']);
    // Leading = and + are prefixed with a quote so spreadsheets show them as text.
    expect(parsed[2]).toEqual(['fused.png', '2.5', '0.003', 'true', '9', '0.7', '0.2', '0.99', '0.001', '1.5', '-0.25', '0.5', '0.04']);
    expect(parsed[3]![0]).toBe(`'=cmd|"/c calc"!A1.png`);
    expect(parsed[4]![0]).toBe('comma, "quote"\nnewline.png');
    expect(parsed[5]![0]).toBe(`'+1.png`);
  });
});

describe('streamed reports', () => {
  const images: ScannedImage[] = Array.from({ length: 7 }, (_, i) => ({
    path: i === 3 ? '=odd, "name"\n.png' : `d/img-${i}.png`,
    score: i / 3,
    dedeScore: i * 1.5,
    pValue: 1 / (i + 1),
    flagged: i % 2 === 0,
    ...(i > 2 ? { decoderScore: i, decoderPValue: 0.5, collapseScore: 0.9, collapsePValue: 1e-3 } : {}),
  }));
  const chunks = (size: number) => Array.from({ length: Math.ceil(images.length / size) }, (_, c) => images.slice(c * size, (c + 1) * size));
  const head: Omit<ScanReport, 'images'> = {
    format: 'dede-scan-report',
    version: 1,
    createdAt: '2026-11-25T00:00:00.000Z',
    tool: { name: 't', version: '1' },
    encoder: { name: 'e', sha256: 'x' },
    decoder: { name: 'd', sha256: 'y' },
    settings: { images: [1, 2], nested: { images: [] } },
    threshold: 0.5,
    calibration: {},
    summary: { scanned: 7, flagged: 4, unreadable: 1 },
    unreadable: [{ path: 'bad.png', reason: 'not an image' }],
  };

  it('CSV pieces joined equal the one-piece CSV, whatever the chunking', () => {
    const whole = Papa.unparse({ fields: ['path', 'score', 'pValue', 'flagged', 'dedeScore', 'decoderScore', 'decoderPValue', 'collapseScore', 'collapsePValue', 'semanticZ', 'lowPassZ', 'flipZ', 'medianPatchError'], data: images.map((r) => [r.path, r.score, r.pValue, r.flagged, r.dedeScore, r.decoderScore ?? '', r.decoderPValue ?? '', r.collapseScore ?? '', r.collapsePValue ?? '', '', '', '', '']) }, { escapeFormulae: FORMULA_START, newline: '\r\n', quotes: false });
    for (const size of [1, 3, 7, 100]) expect([...scanReportCsvParts(chunks(size))].join('')).toBe(whole);
    expect(scanReportCsv({ images: [] })).toBe(Papa.unparse({ fields: [...CSV_COLUMNS], data: [] }, { escapeFormulae: FORMULA_START, newline: '\r\n', quotes: false }));
    expect([...scanReportCsvParts([[], []])].join('')).toBe(scanReportCsv({ images: [] }));
  });

  it('JSON pieces joined equal JSON.stringify(report, null, 2), whatever the chunking', () => {
    const { summary, unreadable, ...before } = head;
    const whole = `${JSON.stringify({ ...before, summary, images, unreadable }, null, 2)}\n`;
    for (const size of [1, 2, 7, 50]) expect([...scanReportJsonParts(head, [[], ...chunks(size), []])].join('')).toBe(whole);
    expect([...scanReportJsonParts({ ...head, summary: { ...summary, scanned: 0 } }, [])].join('')).toBe(`${JSON.stringify({ ...before, summary: { ...summary, scanned: 0 }, images: [], unreadable }, null, 2)}\n`);
  });
});

describe('componentShares', () => {
  it('is each positive z over the sum of the positive z (equal weights)', () => {
    expect(componentShares({ semanticZ: 2, lowPassZ: 6, flipZ: -1 }, EQUAL_WEIGHTS)).toEqual({ semantic: 0.25, lowPass: 0.75, flip: 0 });
    expect(componentShares({ semanticZ: -2, lowPassZ: 0, flipZ: -1 }, EQUAL_WEIGHTS)).toBeNull();
    expect(componentShares({ medianPatchError: 0.3 }, EQUAL_WEIGHTS)).toBeNull();
    const mean = meanComponentShares([{ semanticZ: 1, lowPassZ: 1, flipZ: 2 }, { semanticZ: 3, lowPassZ: 0, flipZ: 1 }, { medianPatchError: 1 }], EQUAL_WEIGHTS);
    expect(mean?.images).toBe(2);
    expect(mean?.shares.semantic).toBeCloseTo((0.25 + 0.75) / 2, 12);
    expect(mean?.shares.lowPass).toBeCloseTo(0.125, 12);
    expect(mean?.shares.flip).toBeCloseTo((0.5 + 0.25) / 2, 12);
  });
});

describe('weighted component shares', () => {
  it('are w_k·max(0, z_k) over their sum, with the weights the report\'s calibration scored with', () => {
    const w = { semantic: 0.2, lowPass: 0.2, flip: 0.6 };
    // 0.2·2 = 0.4, 0.2·6 = 1.2, 0.6·1 = 0.6: sum 2.2.
    const s = componentShares({ semanticZ: 2, lowPassZ: 6, flipZ: 1 }, w);
    expect(s?.semantic).toBeCloseTo(0.4 / 2.2, 12);
    expect(s?.lowPass).toBeCloseTo(1.2 / 2.2, 12);
    expect(s?.flip).toBeCloseTo(0.6 / 2.2, 12);
    const scale = { semantic: { center: 0, spread: 1 }, lowPass: { center: 0, spread: 1 }, flip: { center: 0, spread: 1 }, images: 5, weights: w };
    expect(reportComponentWeights({ scoreKind: { kind: 'content', scale } })).toEqual(w);
    expect(reportComponentWeights({ scoreKind: { kind: 'content', scale: { ...scale, weights: undefined } } })).toEqual(EQUAL_WEIGHTS);
    expect(reportComponentWeights({ scoreKind: { kind: 'median' } })).toEqual(EQUAL_WEIGHTS);
  });
});

describe('component p-values', () => {
  it('rank each z among the clean images\' z of that component, (1 + #{clean ≥ z}) / (n + 1)', () => {
    const scale = { semantic: { center: 0, spread: 1 }, lowPass: { center: Math.log(2), spread: 0.5 }, flip: { center: 0, spread: 2 }, images: 4 };
    // z = (log v − center) / spread (flip |z|): semantic log(e^k) = k.
    const clean = [1, 2, 3, 4].map((k) => ({ semantic: Math.exp(k), lowPass: 2 * Math.exp(0.5 * (k - 2)), flip: Math.exp(-2 * k) }));
    const zs = cleanComponentZ(clean, scale);
    zs.semantic.forEach((z, i) => expect(z).toBeCloseTo(i + 1, 12));
    zs.lowPass.forEach((z, i) => expect(z).toBeCloseTo(i - 1, 12));
    zs.flip.forEach((z, i) => expect(z).toBeCloseTo(i + 1, 12));
    const row = decoderComponentsOf({ semantic: Math.exp(2.5), lowPass: 2 * Math.exp(2), flip: Math.exp(0.2) }, scale, 0.3);
    expect(row.semanticZ).toBeCloseTo(2.5, 12);
    expect(row.lowPassZ).toBeCloseTo(4, 12);
    expect(row.flipZ).toBeCloseTo(0.1, 12);
    const p = componentPValues(row, zs)!;
    expect(p.semantic).toBeCloseTo(3 / 5, 12); // clean 3 and 4 are ≥ 2.5
    expect(p.lowPass).toBeCloseTo(1 / 5, 12); // none ≥ 4
    expect(p.flip).toBeCloseTo(5 / 5, 12); // all ≥ 0.1
    expect(componentPValues({ medianPatchError: 1 }, zs)).toBeNull();
    expect(decoderComponentsOf(clean[0], null, 0.3)).toEqual({ medianPatchError: 0.3 });
  });
});

describe('the decoder training record', () => {
  it('keeps what the decoder file says and nulls what it does not', () => {
    expect(decoderTrainingRecord({ epochs: 31, steps: 713, stoppedBy: 'converged', convergedAtEpoch: 31, heldBackLoss: 0.41234 })).toEqual({ epochs: 31, steps: 713, stoppedBy: 'converged', convergedAtEpoch: 31, heldBackLoss: 0.41234 });
    expect(decoderTrainingRecord({})).toEqual({ epochs: null, steps: null, stoppedBy: null, convergedAtEpoch: null, heldBackLoss: null });
  });

  it('says why training stopped, in words', () => {
    const r = decoderTrainingRecord({ epochs: 31, steps: 713, stoppedBy: 'converged', convergedAtEpoch: 31, heldBackLoss: 0.41234 });
    expect(trainingRecordText(r)).toBe('converged at epoch 31 (held-back loss 0.412)');
    expect(trainingRecordText({ ...r, stoppedBy: 'epochs', epochs: 50, convergedAtEpoch: null })).toBe('ran its whole budget of 50 epochs (held-back loss 0.412)');
    expect(trainingRecordText({ ...r, stoppedBy: 'time', epochs: 12.5, heldBackLoss: null })).toBe('stopped by the time limit after 12.5 epochs');
    expect(trainingRecordText({ ...r, stoppedBy: 'cancel', epochs: 1, heldBackLoss: null })).toBe('stopped by hand after 1 epoch');
    expect(trainingRecordText(decoderTrainingRecord({}))).toBe('not recorded in the decoder file');
  });
});
