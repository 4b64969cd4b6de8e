// The calibration file written by `dede calibrate` and read by `dede scan`: the calibration itself
// (threshold and the clean scores for p-values) plus which encoder/decoder/scorer it belongs to.
import { readFile } from 'node:fs/promises';
import { calibrationFromJSON, type Calibration, type HeldOutReport } from '../core/dede/calibrate';
import type { RobustAggregate } from '../core/dede/scores';
import type { ModelRef } from '../core/report/scan-report';

export const CALIBRATION_FILE_FORMAT = 'dede-calibration';

export interface CalibrationFile {
  readonly format: typeof CALIBRATION_FILE_FORMAT;
  readonly version: 1;
  readonly createdAt: string;
  readonly encoder: ModelRef;
  readonly decoder: ModelRef;
  readonly scorer: { readonly rounds: number; readonly aggregate: RobustAggregate };
  readonly calibration: Calibration;
  readonly heldOut: HeldOutReport;
  readonly images: number;
  /** Absolute path of the clean folder: scan uses it as the collapse reference by default. */
  readonly cleanImages: string;
}

export async function readCalibrationFile(path: string): Promise<CalibrationFile> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new Error(`Cannot read the calibration file ${path}.`);
  });
  let raw: Partial<CalibrationFile>;
  try {
    raw = JSON.parse(text) as Partial<CalibrationFile>;
  } catch {
    throw new Error(`${path} is not valid JSON.`);
  }
  if (raw.format !== CALIBRATION_FILE_FORMAT || raw.version !== 1) throw new Error(`${path} is not a DeDe calibration file (version 1).`);
  // The inner calibration is validated strictly (a hand-edited threshold is refused).
  const calibration = calibrationFromJSON(JSON.stringify(raw.calibration));
  if (!raw.encoder?.sha256 || !raw.decoder?.sha256 || !raw.scorer) throw new Error(`${path} lacks the encoder, decoder or scorer it was made with.`);
  return { ...(raw as CalibrationFile), calibration };
}
