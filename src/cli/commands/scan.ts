// `dede scan`: scores a folder and writes the report (JSON, or CSV when the output name ends in
// .csv). The verdict fuses the per-image decoder score with the set-level collapse score (the
// folder's images mapped onto nearly one embedding), each calibrated on clean images, at one
// target false-positive rate; --no-collapse keeps the decoder score alone.
import { stat, writeFile } from 'node:fs/promises';
import { isFlagged, pValues } from '../../core/dede/calibrate';
import { rowCount } from '../../core/dede/collapse';
import { scoreFolderSet } from '../../core/dede/set-scan';
import { scanReportCsv, SCAN_REPORT_VERSION, type ScanReport, type ScannedImage } from '../../core/report/scan-report';
import { fraction, optionalNum, parse, required, type Options } from '../args';
import { readCalibrationFile, storedReference } from '../calibration-file';
import { SCORER_HELP, SCORER_OPTIONS, scoringInputs } from '../scorer-options';
import { embedFolder, scoreFolder } from '../score-folder';
import { TOOL } from '../tool';
import { formatReadoutFlag, readoutRecord, sameReadout } from '../../core/onnx/readout';

export const SCAN_HELP = `dede scan — score a folder and flag suspected backdoor-triggered images

${SCORER_HELP}  --calibration FILE   the calibration from dede calibrate (.json)
  --out FILE           the report: .json (every image with its verdict and components) or .csv
  --reference DIR      clean images for the set-level collapse score (default: the calibration's clean
                       folder, as embedded by dede calibrate: it is not embedded again)
  --fpr A              target false-positive rate of the verdict (default: the calibration's, else 0.05)
  --k K                neighbours in the collapse score (default 5)
  --no-collapse        judge by the decoder score alone (the calibrated threshold)
`;

const OPTIONS: Options = {
  ...SCORER_OPTIONS,
  calibration: { type: 'string' },
  reference: { type: 'string' },
  fpr: { type: 'string' },
  k: { type: 'string' },
  'no-collapse': { type: 'boolean' },
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
  const scored = await scoreFolder(inputs.images, inputs.encoder, inputs.decoder, inputs.settings, 'scan');
  const decoderP = pValues(scored.scores, cal);
  const targetFpr = optionalNum(v, 'fpr', fraction) ?? (cal.method.method === 'fpr' ? cal.method.target : 0.05);
  const k = optionalNum(v, 'k', (n) => Number.isInteger(n) && n > 0) ?? 5;

  let images: ScannedImage[];
  let verdict: Record<string, unknown>;
  const given = v['reference'] as string | undefined;
  const stored = given === undefined ? storedReference(calibrationFile) : null;
  const referenceDir = given ?? calibrationFile.cleanImages;
  const referenceExists = stored !== null || (referenceDir ? (await stat(referenceDir).catch(() => null))?.isDirectory() === true : false);
  if (v['no-collapse'] || !referenceExists) {
    if (!v['no-collapse']) process.stderr.write(`note: no clean reference folder at ${referenceDir || '(none)'}; judging by the decoder score alone (give --reference DIR for the set-level verdict)\n`);
    images = scored.paths.map((path, i) => ({
      path,
      score: scored.scores[i]!,
      dedeScore: scored.dedeScores[i]!,
      pValue: decoderP[i]!,
      flagged: isFlagged(scored.scores[i]!, cal),
      decoderScore: scored.scores[i]!,
      decoderPValue: decoderP[i]!,
    }));
    verdict = { kind: 'decoder', threshold: cal.threshold };
  } else {
    const reference = stored ?? (await embedFolder(referenceDir!, inputs.encoder, 'reference'));
    if (stored) process.stderr.write(`collapse reference: the ${stored.images} clean images embedded by dede calibrate\n`);
    const referenceImages = rowCount(reference.embeddings);
    const set = scoreFolderSet(
      {
        embeddings: scored.embeddings,
        fingerprints: scored.fingerprints,
        dedeScores: scored.scores,
        cleanRef: { embeddings: reference.embeddings, fingerprints: reference.fingerprints, dedeScores: cal.cleanScores },
      },
      { targetFpr, k },
    );
    images = scored.paths.map((path, i) => {
      const r = set.images[i]!;
      return {
        path,
        score: r.score,
        dedeScore: scored.dedeScores[i]!,
        pValue: r.fusedP,
        flagged: r.flagged,
        decoderScore: scored.scores[i]!,
        decoderPValue: r.dedePValue,
        collapseScore: r.collapseScore,
        collapsePValue: r.collapsePValue,
      };
    });
    verdict = { kind: 'fused', targetFpr, fusion: set.fusion, weights: set.weights, gate: set.gate, k: set.k, referenceImages, reference: referenceDir, referenceSource: stored ? 'calibration' : 'folder' };
  }
  const flagged = images.filter((r) => r.flagged).length;
  const report: ScanReport = {
    format: 'dede-scan-report',
    version: SCAN_REPORT_VERSION,
    createdAt: new Date().toISOString(),
    tool: TOOL,
    encoder: { name: inputs.encoder.path, sha256: inputs.encoder.sha256, readout: readoutRecord(inputs.encoder.readout, scored.embeddings.dim || inputs.encoder.readout.dim) },
    decoder: { name: inputs.decoder.path, sha256: inputs.decoder.sha256 },
    settings: { rounds: inputs.settings.rounds, aggregate: inputs.settings.aggregate, decoder: inputs.decoder.cfg, preprocessing: inputs.encoder.preprocessing, verdict },
    threshold: cal.threshold,
    calibration: { method: cal.method, scoreKind: cal.scoreKind, n: cal.n, mean: cal.mean, std: cal.std, heldOut: calibrationFile.heldOut },
    summary: { scanned: images.length, flagged, unreadable: scored.unreadable.length },
    images,
    unreadable: scored.unreadable,
  };
  await writeFile(out, /\.csv$/i.test(out) ? scanReportCsv(report) : `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`${flagged} of ${images.length} images flagged (${verdict['kind'] === 'fused' ? `fused verdict at ${(targetFpr * 100).toFixed(1)}% FPR` : `decoder score > ${cal.threshold.toPrecision(6)}`}); ${scored.unreadable.length} unreadable\n`);
  process.stdout.write(`${out}\n`);
}
