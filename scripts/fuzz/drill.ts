// Runs the bad-input corpus through the Node-side paths (image triage, the CLI's image reader, the
// encoder file check, the strict ONNX parser, every export) and returns one row per case with what
// was expected and what happened. The unit test and `npm run fuzz` print the same table.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Papa from 'papaparse';
import { cleanedFileList, zipEntryName } from '../../src/core/report/report-files';
import { loadImageFolder } from '../../src/cli/node-images';
import { mulberry32 } from '../../src/core/dede/rng';
import { MAX_SIDE_DEFAULT } from '../../src/core/images/reasons';
import { declaredDimensions, IMAGE_FORMATS, sniff } from '../../src/core/images/sniff';
import { triageImage } from '../../src/core/images/triage';
import { checkEncoderFileSize, EncoderFileError, readEncoderFile } from '../../src/core/onnx/encoder-file';
import { OnnxFormatError } from '../../src/core/onnx/errors';
import { inspectModel } from '../../src/core/onnx/inspect';
import { parseModel } from '../../src/core/onnx/parse';
import { escapeHtml } from '../../src/core/report/html-escape';
import { buildHtmlReport } from '../../src/core/report/html-report';
import { FORMULA_START, scanReportCsv, SCAN_REPORT_VERSION, type ScanReport } from '../../src/core/report/scan-report';
import { FUZZ_SEED, HOSTILE_NAMES, hostileName, mutantImages, mutate, type ImageCase, type OnnxCase } from './corpus';

export interface DrillRow {
  readonly area: string;
  readonly case: string;
  readonly expected: string;
  readonly got: string;
  readonly message: string;
  readonly pass: boolean;
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

// ---------------------------------------------------------------------------------------------
// Images

/** What the header-level triage must say: the refusal for header cases, "to decoder" otherwise. */
function triageExpected(c: ImageCase): string {
  return c.expect.outcome === 'unreadable' && c.expect.by === 'header' ? c.expect.kind : 'to decoder';
}

export function drillImageTriage(cases: readonly ImageCase[]): DrillRow[] {
  return cases.map((c) => {
    const expected = triageExpected(c);
    try {
      const t = triageImage(c.bytes, MAX_SIDE_DEFAULT);
      const got = t.ok ? 'to decoder' : t.kind;
      const message = t.ok ? `${t.format}${t.declared ? ` ${t.declared.width}×${t.declared.height}` : ''}` : t.reason;
      const reasonOk = t.ok || (c.expect.outcome === 'unreadable' && c.expect.reason.test(t.reason));
      return { area: 'image triage', case: c.label, expected, got, message, pass: got === expected && reasonOk };
    } catch (e) {
      return { area: 'image triage', case: c.label, expected, got: 'crash', message: errorText(e), pass: false };
    }
  });
}

/** Writes the image cases under `root` (paths as given, hostile names included). */
export function writeImageCases(root: string, cases: readonly ImageCase[]): void {
  for (const c of cases) {
    const full = join(root, ...c.path.split('/'));
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, c.bytes);
  }
}

/** The CLI's folder reader over the whole image corpus: every bad file listed with a reason, none fatal. */
export async function drillCliReader(cases: readonly ImageCase[]): Promise<DrillRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'dede-fuzz-cli-'));
  try {
    writeImageCases(root, cases);
    let loaded: Awaited<ReturnType<typeof loadImageFolder>>;
    try {
      loaded = await loadImageFolder(root, { width: 32, height: 32 });
    } catch (e) {
      return [{ area: 'CLI reader', case: 'whole folder', expected: 'loads', got: 'crash', message: errorText(e), pass: false }];
    }
    const ok = new Set(loaded.paths);
    const bad = new Map(loaded.unreadable.map((u) => [u.path, u.reason]));
    return cases.map((c) => {
      const reason = bad.get(c.path);
      const got = ok.has(c.path) ? 'ok' : reason !== undefined ? 'unreadable' : 'missing';
      const expected = c.expect.outcome;
      // Header refusals read exactly as in the app; decoder failures name the format and sharp's words.
      const reasonOk =
        c.expect.outcome === 'ok' ||
        (reason !== undefined &&
          (c.expect.by === 'header'
            ? c.expect.reason.test(reason)
            : /^corrupt (PNG|JPEG|WebP): it could not be decoded \(.+\)$/.test(reason) && reason.includes('ends early') === c.expect.reason.source.includes('ends early')));
      return { area: 'CLI reader', case: c.label, expected, got, message: reason ?? '', pass: got === expected && reasonOk };
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// ONNX

/** The encoder check a local file gets, reduced to its outcome and the message the user reads. */
export function encoderVerdict(c: Pick<OnnxCase, 'name' | 'bytes'> & { siblingsReachable?: boolean }): { outcome: string; message: string } {
  try {
    const { check } = readEncoderFile(c.name, c.bytes, c.siblingsReachable ?? false);
    if (!check.ok) return { outcome: 'refused', message: check.reason };
    return { outcome: 'ok', message: check.inputSize ? `${check.inputSize.h}×${check.inputSize.w}` : 'dynamic' };
  } catch (e) {
    if (e instanceof EncoderFileError) return { outcome: e.problem, message: e.message };
    return { outcome: 'crash', message: errorText(e) };
  }
}

export function drillOnnx(cases: readonly OnnxCase[]): DrillRow[] {
  return cases.flatMap((c) => {
    const v = encoderVerdict(c);
    const row: DrillRow = { area: 'encoder file', case: c.label, expected: c.outcome, got: v.outcome, message: v.message, pass: v.outcome === c.outcome && c.message.test(v.message) };
    // The strict parser (used where a model's weights are read) must fail with its own error, too.
    let strict: string;
    try {
      parseModel(c.bytes);
      strict = 'parsed';
    } catch (e) {
      strict = e instanceof OnnxFormatError ? `refused (${e.code})` : `crash: ${errorText(e)}`;
    }
    // From a hub repo or URL external files can come along, but too many bytes are refused all the same.
    const viaHub: DrillRow[] = [];
    if (c.viaHub !== undefined) {
      const hub = encoderVerdict({ ...c, siblingsReachable: true });
      const messageOk = hub.outcome === c.outcome ? c.message.test(hub.message) : true;
      viaHub.push({ area: 'encoder (hub)', case: c.label, expected: c.viaHub, got: hub.outcome, message: hub.message, pass: hub.outcome === c.viaHub && messageOk });
    }
    return [row, ...viaHub, { area: 'strict parser', case: c.label, expected: 'parsed or refused', got: strict.split(':')[0]!, message: strict, pass: !strict.startsWith('crash') }];
  });
}

/** A 3 GB .onnx cannot be put in a corpus; its size alone must refuse it before it is read. */
export function drillOversizedOnnx(): DrillRow[] {
  const expected = 'malformed';
  let got = 'accepted';
  let message = '';
  try {
    checkEncoderFileSize('huge.onnx', 3.2e9);
  } catch (e) {
    got = e instanceof EncoderFileError ? e.problem : 'crash';
    message = errorText(e);
  }
  return [{ area: 'encoder file', case: '3.2 GB .onnx (size only)', expected, got, message, pass: got === expected && /cannot exceed 2 GB/.test(message) }];
}

// ---------------------------------------------------------------------------------------------
// Mutation fuzzing: seeded byte flips, cuts and splices of valid files; nothing may throw anything
// but the documented error, and every call must return.

export function drillMutations(images: readonly ImageCase[], onnx: readonly OnnxCase[], rounds = 300, seed = FUZZ_SEED): DrillRow[] {
  const rng = mulberry32(seed + 2);
  const goodModels = onnx.filter((c) => c.outcome === 'ok');
  const mutants = mutantImages(images, rounds, seed);
  const crashes: string[] = [];
  let refusedModels = 0;
  for (let i = 0; i < rounds; i++) {
    const img = mutants[i]!.bytes;
    try {
      triageImage(img, MAX_SIDE_DEFAULT);
      for (const f of IMAGE_FORMATS) declaredDimensions(img, f);
      sniff(img);
    } catch (e) {
      crashes.push(`image round ${i}: ${errorText(e)}`);
    }
    const m = goodModels[Math.floor(rng() * goodModels.length)]!;
    const bytes = mutate(rng, m.bytes);
    const v = encoderVerdict({ name: m.name, bytes });
    if (v.outcome === 'crash') crashes.push(`model round ${i}: ${v.message}`);
    if (v.outcome !== 'ok') refusedModels++;
    try {
      parseModel(bytes);
    } catch (e) {
      if (!(e instanceof OnnxFormatError)) crashes.push(`strict parser round ${i}: ${errorText(e)}`);
    }
  }
  return [
    {
      area: 'mutations',
      case: `${rounds} mutated images + ${rounds} mutated encoders`,
      expected: 'no crash',
      got: crashes.length === 0 ? 'no crash' : `${crashes.length} crashes`,
      message: crashes[0] ?? `${refusedModels} of ${rounds} encoders refused with a message`,
      pass: crashes.length === 0,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Exports with hostile names

/** Report paths: each hostile name inside a folder and at the top level (where a leading = lands). */
export function hostilePaths(): string[] {
  return HOSTILE_NAMES.flatMap((n) => [`suspect/${n}`, n]);
}

export function hostileReport(paths: readonly string[]): ScanReport {
  const images = paths.map((path, i) => ({ path, score: 1 + i / 8, dedeScore: 20 - i, pValue: 1 / (i + 2), flagged: i % 2 === 0 }));
  return {
    format: 'dede-scan-report',
    version: SCAN_REPORT_VERSION,
    createdAt: '2026-01-01T00:00:00.000Z',
    tool: { name: 'dede-web', version: 'fuzz' },
    encoder: { name: hostileName('=cmd'), sha256: 'a'.repeat(64) },
    decoder: { name: hostileName('<script>'), sha256: 'b'.repeat(64) },
    settings: { folders: [{ name: hostileName('"><img') }] },
    threshold: 1.5,
    calibration: {},
    summary: { scanned: images.length, flagged: images.filter((i) => i.flagged).length, unreadable: paths.length },
    images,
    unreadable: paths.map((path) => ({ path: `bad/${path}`, reason: `not an image (looks like ${path})` })),
  };
}

/** The cell a CSV reader sees for a path: the path, with a ' in front when it starts like a formula. */
export const csvCell = (path: string) => (FORMULA_START.test(path) ? `'${path}` : path);

/** Parses a cleaned file list: one path per line, JSON-quoted when it holds a line break. */
export function parseCleanedList(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (line.startsWith('"') ? (JSON.parse(line) as string) : line));
}

export function drillExports(paths = hostilePaths()): DrillRow[] {
  const report = hostileReport(paths);
  const rows: DrillRow[] = [];
  const check = (what: string, expected: string, run: () => string | null) => {
    try {
      const problem = run();
      rows.push({ area: 'export', case: what, expected, got: problem === null ? expected : 'corrupt', message: problem ?? `${paths.length} hostile paths`, pass: problem === null });
    } catch (e) {
      rows.push({ area: 'export', case: what, expected, got: 'crash', message: errorText(e), pass: false });
    }
  };
  check('CSV report', 'parses back exactly', () => {
    const parsed = Papa.parse<Record<string, string>>(scanReportCsv(report), { header: true, skipEmptyLines: true });
    if (parsed.errors.length > 0) return `parse error: ${parsed.errors[0]!.message}`;
    if (parsed.data.length !== paths.length) return `${parsed.data.length} rows for ${paths.length} images`;
    for (const [i, row] of parsed.data.entries()) {
      const cell = row['path']!;
      if (cell !== csvCell(paths[i]!)) return `row ${i}: ${JSON.stringify(cell)} for ${JSON.stringify(paths[i])}`;
      for (const v of Object.values(row)) if (FORMULA_START.test(v) && !/^-?\d/.test(v)) return `row ${i}: cell ${JSON.stringify(v)} would run as a formula`;
    }
    return null;
  });
  check('JSON report', 'round-trips', () => {
    const back = JSON.parse(JSON.stringify(report, null, 2)) as ScanReport;
    const bad = back.images.findIndex((img, i) => img.path !== paths[i]);
    return bad >= 0 ? `path ${bad} changed` : back.unreadable.length === paths.length ? null : 'unreadable list changed';
  });
  check('HTML report', 'no markup from names', () => {
    const html = buildHtmlReport({
      report,
      encoderFacts: { Source: hostileName('<script>') },
      decoderFacts: {},
      calibratedThreshold: 1.5,
      folders: [{ name: hostileName('"><img'), role: 'Suspect', count: paths.length, flagged: 1 }],
      histogramSvg: '',
      evaluation: null,
      top: report.images.slice(0, 12).map((i) => ({ ...i, folder: 'suspect', original: 'data:image/png;base64,AA==', heatmap: null })),
      flaggedTotal: 12,
      triggerMap: null,
      clusters: [{ size: 5, cohesion: 0.99, target: 'data:image/png;base64,AA==', targetCaption: hostileName('<script>'), triggerMap: null, peak: null, members: report.images.slice(0, 5).map((i) => ({ path: i.path, folder: '<i>suspect</i>' })) }],
      colormap: 'viridis',
      privacy: { policies: [`connect-src 'self' ${hostileName('<script>')}`], network: hostileName('"><img') },
      tagged: report.images.slice(12).map((i) => ({ path: i.path, folder: '<b>folder</b>', tag: 'poisoned', score: i.score, flagged: i.flagged })),
    });
    if (/<script|<img src=x|<b>|<i>/i.test(html)) return 'a name became markup';
    const missing = paths.find((p) => !html.includes(escapeHtml(p)));
    return missing === undefined ? null : `${JSON.stringify(missing)} is not shown escaped`;
  });
  check('cleaned file list', 'one path per line', () => {
    const rowsIn = report.images.map((i) => ({ path: i.path, score: 0 }));
    const back = parseCleanedList(cleanedFileList(rowsIn, 1));
    if (back.length !== paths.length) return `${back.length} lines for ${paths.length} paths`;
    const bad = back.findIndex((p, i) => p !== paths[i]);
    return bad >= 0 ? `line ${bad} reads ${JSON.stringify(back[bad])}` : null;
  });
  check('zip entry names', 'portable and unique', () => {
    const taken = new Set<string>();
    const names = paths.map((p) => zipEntryName('kept', p, taken));
    const bad = names.find((n) => /[\u0000-\u001f\u007f<>:"|?*\\]/.test(n) || n.split('/').some((s) => s === '..' || s === ''));
    if (bad !== undefined) return `entry ${JSON.stringify(bad)} cannot be unzipped everywhere`;
    return new Set(names).size === names.length ? null : 'two entries share a name';
  });
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The table

function cell(s: string, width: number): string {
  const flat = JSON.stringify(s).slice(1, -1); // line breaks and tabs stay visible and on one line
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat.padEnd(width);
}

/** case | expected | got | message, one line per row, grouped by area; failures marked ✗. */
export function formatTable(rows: readonly DrillRow[]): string {
  const widths = { area: 13, case: 34, expected: 19, got: 19, message: 90 };
  const line = (r: Pick<DrillRow, 'area' | 'case' | 'expected' | 'got' | 'message'>, mark: string) =>
    `${mark} ${cell(r.area, widths.area)} | ${cell(r.case, widths.case)} | ${cell(r.expected, widths.expected)} | ${cell(r.got, widths.got)} | ${cell(r.message, widths.message)}`;
  const failed = rows.filter((r) => !r.pass).length;
  return [
    line({ area: 'area', case: 'case', expected: 'expected', got: 'got', message: 'message' }, ' '),
    '-'.repeat(200),
    ...rows.map((r) => line(r, r.pass ? '✓' : '✗')),
    `${rows.length - failed} of ${rows.length} cases as expected${failed > 0 ? `; ${failed} FAILED` : ''}`,
  ].join('\n');
}
