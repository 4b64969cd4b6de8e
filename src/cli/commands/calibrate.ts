// `dede calibrate`: scores clean images and fixes the flagging threshold, reporting the realised
// false-positive rate on a held-back part of them.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CalibrationMethod } from '../../core/dede/calibrate';
import { splitContentCalibration } from '../../core/dede/content-calibration';
import { fraction, num, parse, required, UsageError, type Options } from '../args';
import { SCORER_HELP, SCORER_OPTIONS, scoringInputs } from '../scorer-options';
import { scoreFolder } from '../score-folder';
import { readoutRecord } from '../../core/onnx/readout';
import { CALIBRATION_FILE_FORMAT, encodeRows, type CalibrationFile } from '../calibration-file';

export const CALIBRATE_HELP = `dede calibrate — set the flagging threshold from clean images

${SCORER_HELP}  --out FILE           where to write the calibration (.json)
  --fpr A              target false-positive rate (default 0.05): threshold from the clean-score quantile
  --k K                or: threshold = mean + K·std of the clean scores
  --holdout F          fraction of the clean images held back to measure the realised FPR (default 0.3)
  --seed N             seed of the held-back split (default 0)
`;

const OPTIONS: Options = {
  ...SCORER_OPTIONS,
  fpr: { type: 'string' },
  k: { type: 'string' },
  holdout: { type: 'string' },
  seed: { type: 'string' },
};

export async function calibrateCommand(argv: readonly string[]): Promise<void> {
  const v = parse(argv, OPTIONS);
  const out = required(v, 'out');
  if (v['fpr'] !== undefined && v['k'] !== undefined) throw new UsageError('Give either --fpr or --k, not both.');
  const method: CalibrationMethod =
    v['k'] !== undefined ? { method: 'sigma', k: num(v, 'k', 3, Number.isFinite) } : { method: 'fpr', target: num(v, 'fpr', 0.05, fraction) };
  const holdout = num(v, 'holdout', 0.3, fraction);
  const inputs = await scoringInputs(v);
  const scored = await scoreFolder(inputs.images, inputs.encoder, inputs.decoder, inputs.settings, 'fit', 'calibrate');
  const aggregate = inputs.settings.aggregate ?? { kind: 'median' };
  // The threshold is on the content score (docs/ARCHITECTURE.md §5.3.1): its clean scale is fitted
  // here and stored in the calibration's scoreKind, so scans and shards need nothing else.
  const split = splitContentCalibration(scored.components ?? [], holdout, num(v, 'seed', 0, Number.isInteger), method);
  const file: CalibrationFile = {
    format: CALIBRATION_FILE_FORMAT,
    version: 2,
    createdAt: new Date().toISOString(),
    encoder: { name: inputs.encoder.path, sha256: inputs.encoder.sha256, readout: readoutRecord(inputs.encoder.readout, scored.embeddings.dim || inputs.encoder.readout.dim) },
    decoder: { name: inputs.decoder.path, sha256: inputs.decoder.sha256 },
    scorer: { rounds: inputs.settings.rounds ?? 8, aggregate },
    calibration: split.calibration,
    heldOut: split.heldOut,
    images: scored.paths.length,
    cleanImages: resolve(inputs.images),
    reference: { images: scored.paths.length, embeddings: encodeRows(scored.embeddings), fingerprints: encodeRows(scored.fingerprints) },
  };
  await writeFile(out, `${JSON.stringify(file, null, 2)}\n`);
  const target = method.method === 'fpr' ? `target ${(method.target * 100).toFixed(1)}%` : `μ + ${method.k}σ`;
  process.stderr.write(
    `threshold ${split.calibration.threshold.toPrecision(6)} (${target}) from ${split.calibration.n} clean images; ` +
      `realised FPR on ${split.heldOut.n} held-back images: ${(split.heldOut.fpr * 100).toFixed(1)}%\n`,
  );
  process.stdout.write(`${out}\n`);
}
