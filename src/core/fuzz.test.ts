// The bad-input drill, Node half: the generated corpus (scripts/fuzz/corpus.ts) through image
// triage, the CLI's folder reader, the encoder file check and strict ONNX parser, seeded mutations,
// and every export with hostile file names. Prints the summary table; any unexpected row fails.
import { afterAll, describe, expect, it } from 'vitest';
import { imageCases, onnxCases, type ImageCase, type OnnxCase } from '../../scripts/fuzz/corpus';
import { drillCliReader, drillExports, drillImageTriage, drillMutations, drillOnnx, drillOversizedOnnx, formatTable, type DrillRow } from '../../scripts/fuzz/drill';

const all: DrillRow[] = [];
let images: ImageCase[] = [];
const onnx: OnnxCase[] = onnxCases();

/** Keeps the rows for the table and fails with the unexpected ones spelled out. */
function expectAsPlanned(rows: DrillRow[]): void {
  all.push(...rows);
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.filter((r) => !r.pass).map((r) => `${r.area} | ${r.case}: expected ${r.expected}, got ${r.got} (${r.message})`)).toEqual([]);
}

describe('bad input drill', () => {
  afterAll(() => console.log(`\n${formatTable(all)}\n`));

  it('builds a deterministic corpus covering every kind of bad input', async () => {
    images = await imageCases();
    const again = await imageCases();
    expect(again.map((c) => c.bytes)).toEqual(images.map((c) => c.bytes));
    const kinds = new Set(images.flatMap((c) => (c.expect.outcome === 'unreadable' ? [c.expect.kind] : [])));
    expect([...kinds].sort()).toEqual(['corrupt', 'empty', 'not-image', 'too-large', 'unsupported']);
    expect(images.filter((c) => c.path.startsWith('names/'))).toHaveLength(19);
    expect(new Set(onnx.map((c) => c.outcome))).toEqual(new Set(['ok', 'empty', 'malformed', 'refused', 'external-data']));
  });

  it('triage refuses empty, non-image, zero-sized and oversized files from their bytes alone', () => {
    expectAsPlanned(drillImageTriage(images));
  });

  it("the CLI's folder reader lists every bad file with the app's reason and loads the rest", async () => {
    expectAsPlanned(await drillCliReader(images));
  });

  it('each bad encoder file gets its own clear message; the strict parser never throws anything else', () => {
    expectAsPlanned([...drillOnnx(onnx), ...drillOversizedOnnx()]);
  });

  it('seeded byte mutations of valid images and encoders never crash a reader', () => {
    expectAsPlanned(drillMutations(images, onnx));
  });

  it('CSV, JSON, HTML, the cleaned list and zip names keep hostile file names intact and inert', () => {
    expectAsPlanned(drillExports());
  });
});
