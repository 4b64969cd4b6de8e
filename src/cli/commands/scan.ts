// `dede scan`: scores a folder and writes the report (JSON, or CSV when the output name ends in
// .csv). The verdict fuses the per-image decoder score with the set-level collapse score (the
// folder's images mapped onto nearly one embedding), each calibrated on clean images, at one
// target false-positive rate; --no-collapse keeps the decoder score alone.
import { writeFile } from 'node:fs/promises';
import { valueRange } from '../../core/report/charts';
import { scanReportCsv, type ScanReport } from '../../core/report/scan-report';
import { fraction, optionalNum, parse, required, UsageError, type Options } from '../args';
import { readCalibrationFile } from '../calibration-file';
import { SCORER_HELP, SCORER_OPTIONS, scoringInputs } from '../scorer-options';
import { scoreFolder } from '../score-folder';
import { formatReadoutFlag, sameReadout } from '../../core/onnx/readout';
import { collapseReference, decoderComponents, decoderScoring, folderVerdict, reportHead, type VerdictSettings } from '../scan-verdict';
import { parseShard } from '../shard-part';
import { scanShard } from '../shard-scan';
import { cliHtmlReport, ReportDigest, verdictThreshold } from '../html-report';

export const SCAN_HELP = `dede scan — score a folder and flag suspected backdoor-triggered images

${SCORER_HELP}  --calibration FILE   the calibration from dede calibrate (.json)
  --out FILE           the report: .json (every image with its verdict and components), .csv, or
                       .html (one self-contained page: summary, histogram, top flagged images)
  --reference DIR      clean images for the set-level collapse score (default: the calibration's clean
                       folder, as embedded by dede calibrate: it is not embedded again)
  --fpr A              target false-positive rate of the verdict (default: the calibration's, else 0.05)
  --k K                neighbours in the collapse score (default 5)
  --no-collapse        judge by the decoder score alone (the calibrated threshold)
  --shard I/N          scan shard I of N (0-based, I = 0…N−1): the images whose file SHA-256 falls in
                       it, a random sample of the folder. Writes a part file (JSON Lines, rows appended
                       as they are scored; run again with the same --out to resume) for dede merge
`;

const OPTIONS: Options = {
  ...SCORER_OPTIONS,
  calibration: { type: 'string' },
  reference: { type: 'string' },
  fpr: { type: 'string' },
  k: { type: 'string' },
  'no-collapse': { type: 'boolean' },
  shard: { type: 'string' },
};

export async function scanCommand(argv: readonly string[]): Promise<void> {
  const v = parse(argv, OPTIONS);
  const out = required(v, 'out');
  const calibrationFile = await readCalibrationFile(required(v, 'calibration'));
  // Score the same way the calibration did unless told otherwise: thresholds only mean something then.
  const inputs = await scoringInputs({
    ...v,
    ...(v['rounds'] === undefined ? { rounds: String(calibrationFile.scorer.rounds) } : {}),
    ...(v['aggregate'] === undefined ? { aggregate: calibrationFile.scorer.aggregate.kind === 'median' ? 'median' : 'trimmed' } : {}),
  });
  if (calibrationFile.decoder.sha256 !== inputs.decoder.sha256 || calibrationFile.encoder.sha256 !== inputs.encoder.sha256) {
    throw new Error('The calibration was made with a different encoder or decoder; calibrate again with these models.');
  }
  const calibratedOn = calibrationFile.encoder.readout;
  if (calibratedOn && !sameReadout(calibratedOn, inputs.encoder.readout)) {
    throw new Error(`The calibration was made on the embedding ${formatReadoutFlag(calibratedOn)}, not ${formatReadoutFlag(inputs.encoder.readout)}; calibrate again, or scan with --output ${formatReadoutFlag(calibratedOn)}.`);
  }
  const cal = calibrationFile.calibration;
  if (cal.scoreKind.kind !== 'content') process.stderr.write(`note: ${required(v, 'calibration')} predates the content score; judging by the median patch error it was fitted on (run dede calibrate again for the content score, docs/ARCHITECTURE.md §5.3.1)\n`);
  const targetFpr = optionalNum(v, 'fpr', fraction) ?? (cal.method.method === 'fpr' ? cal.method.target : 0.05);
  const k = optionalNum(v, 'k', (n) => Number.isInteger(n) && n > 0) ?? 5;
  const shard = v['shard'] === undefined ? null : parseShard(String(v['shard']));
  const judge: VerdictSettings = { cal, targetFpr, k, reference: await collapseReference(v, calibrationFile, inputs.encoder) };
  if (shard && /\.(json|csv|html)$/i.test(out)) throw new UsageError(`--shard writes a part file for dede merge, not a report: give --out a name like part-${shard.index}.jsonl (dede merge writes the .json, .csv or .html report).`);
  if (shard) return scanShard({ out, shard, inputs, calibrationFile, calibrationPath: required(v, 'calibration'), judge });
  const scored = await scoreFolder(inputs.images, inputs.encoder, inputs.decoder, inputs.settings, decoderScoring(cal), 'scan');
  const { images, verdict } = folderVerdict({ ...scored, components: decoderComponents(scored, cal) }, judge);
  const flagged = images.filter((r) => r.flagged).length;
  const report: ScanReport = {
    ...reportHead(inputs, calibrationFile, scored.embeddings.dim, verdict),
    summary: { scanned: images.length, flagged, unreadable: scored.unreadable.length },
    images,
    unreadable: scored.unreadable,
  };
  let note = '';
  if (/\.html$/i.test(out)) {
    const threshold = verdictThreshold(verdict.kind, targetFpr, cal.threshold);
    const digest = new ReportDigest(valueRange([Float64Array.from(images, (r) => r.score)], [threshold]) ?? { lo: 0, hi: 1 }, threshold);
    digest.add(images.map((image) => ({ image })));
    const { images: _all, ...head } = report;
    const html = await cliHtmlReport({ head, digest, root: inputs.images });
    await writeFile(out, html.html);
    if (html.missing > 0) note = `; ${html.missing} of the top images could not be read again for their thumbnails`;
  } else await writeFile(out, /\.csv$/i.test(out) ? scanReportCsv(report) : `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`${flagged} of ${images.length} images flagged (${verdict.kind === 'fused' ? `fused verdict at ${(targetFpr * 100).toFixed(1)}% FPR` : `decoder score > ${cal.threshold.toPrecision(6)}`}); ${scored.unreadable.length} unreadable${note}\n`);
  process.stdout.write(`${out}\n`);
}

