// `dede scan`: scores a folder against a calibration and writes the report (JSON, or CSV when the
// output name ends in .csv).
import { writeFile } from 'node:fs/promises';
import { isFlagged, pValues } from '../../core/dede/calibrate';
import { scanReportCsv, SCAN_REPORT_VERSION, type ScanReport } from '../../core/report/scan-report';
import { parse, required, type Options } from '../args';
import { readCalibrationFile } from '../calibration-file';
import { SCORER_HELP, SCORER_OPTIONS, scoringInputs } from '../scorer-options';
import { scoreFolder } from '../score-folder';
import { TOOL } from '../tool';

export const SCAN_HELP = `dede scan — score a folder and flag suspected backdoor-triggered images

${SCORER_HELP}  --calibration FILE   the calibration from dede calibrate (.json)
  --out FILE           the report: .json (every image with score, dedeScore, pValue, flagged) or .csv
`;

const OPTIONS: Options = { ...SCORER_OPTIONS, calibration: { type: 'string' } };

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
  const scored = await scoreFolder(inputs.images, inputs.encoder, inputs.decoder, inputs.settings, 'scan');
  const cal = calibrationFile.calibration;
  const p = pValues(scored.scores, cal);
  const images = scored.paths.map((path, i) => ({
    path,
    score: scored.scores[i]!,
    dedeScore: scored.dedeScores[i]!,
    pValue: p[i]!,
    flagged: isFlagged(scored.scores[i]!, cal),
  }));
  const flagged = images.filter((r) => r.flagged).length;
  const report: ScanReport = {
    format: 'dede-scan-report',
    version: SCAN_REPORT_VERSION,
    createdAt: new Date().toISOString(),
    tool: TOOL,
    encoder: { name: inputs.encoder.path, sha256: inputs.encoder.sha256 },
    decoder: { name: inputs.decoder.path, sha256: inputs.decoder.sha256 },
    settings: { rounds: inputs.settings.rounds, aggregate: inputs.settings.aggregate, decoder: inputs.decoder.cfg, preprocessing: inputs.encoder.preprocessing },
    threshold: cal.threshold,
    calibration: { method: cal.method, scoreKind: cal.scoreKind, n: cal.n, mean: cal.mean, std: cal.std, heldOut: calibrationFile.heldOut },
    summary: { scanned: images.length, flagged, unreadable: scored.unreadable.length },
    images,
    unreadable: scored.unreadable,
  };
  await writeFile(out, /\.csv$/i.test(out) ? scanReportCsv(report) : `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`${flagged} of ${images.length} images flagged (threshold ${cal.threshold.toPrecision(6)}); ${scored.unreadable.length} unreadable\n`);
  process.stdout.write(`${out}\n`);
}
