// The calibration file written by `dede calibrate` and read by `dede scan`: the calibration itself
// (threshold and the clean scores for p-values), which encoder/decoder/scorer it belongs to, and
// (version 2) the clean images' embeddings and fingerprints, so a scan's collapse reference needs
// no second pass of the encoder over the clean folder (at 224 px the encoder is the cost).
import { readFile } from 'node:fs/promises';
import { calibrationFromJSON, type Calibration, type HeldOutReport } from '../core/dede/calibrate';
import { rowCount, type Rows } from '../core/dede/collapse';
import type { RobustAggregate } from '../core/dede/scores';
import type { ModelRef } from '../core/report/scan-report';

export const CALIBRATION_FILE_FORMAT = 'dede-calibration';

/** A float32 matrix as JSON: little-endian float32 bytes in base64. */
export interface EncodedRows {
  readonly rows: number;
  readonly dim: number;
  readonly float32Base64: string;
}

/** The clean folder as the collapse score needs it, embedded once by `dede calibrate`. */
export interface StoredReference {
  readonly images: number;
  readonly embeddings: EncodedRows;
  readonly fingerprints: EncodedRows;
}

export interface CalibrationFile {
  readonly format: typeof CALIBRATION_FILE_FORMAT;
  /** 1: no stored reference (scan embeds the clean folder again); 2: with `reference`. */
  readonly version: 1 | 2;
  readonly createdAt: string;
  readonly encoder: ModelRef;
  readonly decoder: ModelRef;
  readonly scorer: { readonly rounds: number; readonly aggregate: RobustAggregate };
  readonly calibration: Calibration;
  readonly heldOut: HeldOutReport;
  readonly images: number;
  /** Absolute path of the clean folder: scan uses it as the collapse reference by default. */
  readonly cleanImages: string;
  /** Version 2: the clean folder's embeddings and fingerprints (same row order, all its images). */
  readonly reference?: StoredReference;
}

export function encodeRows(rows: Rows): EncodedRows {
  const bytes = Buffer.from(rows.data.buffer, rows.data.byteOffset, rows.data.byteLength);
  return { rows: rowCount(rows), dim: rows.dim, float32Base64: bytes.toString('base64') };
}

export function decodeRows(encoded: EncodedRows, what: string): Rows {
  const bytes = Buffer.from(encoded.float32Base64, 'base64');
  if (!Number.isInteger(encoded.rows) || !Number.isInteger(encoded.dim) || bytes.byteLength !== encoded.rows * encoded.dim * 4) {
    throw new Error(`The calibration's ${what} are damaged (${bytes.byteLength} bytes for ${encoded.rows}×${encoded.dim} values); calibrate again.`);
  }
  // Copied into an aligned buffer: Buffer.from(base64) may start at any byte offset of its pool.
  const data = new Float32Array(encoded.rows * encoded.dim);
  new Uint8Array(data.buffer).set(bytes);
  return { data, dim: encoded.dim };
}

/** The stored collapse reference, decoded and checked against its own counts. */
export function storedReference(file: CalibrationFile): { embeddings: Rows; fingerprints: Rows; images: number } | null {
  if (!file.reference) return null;
  const embeddings = decodeRows(file.reference.embeddings, 'reference embeddings');
  const fingerprints = decodeRows(file.reference.fingerprints, 'reference fingerprints');
  if (rowCount(embeddings) !== file.reference.images || rowCount(fingerprints) !== file.reference.images) {
    throw new Error(`The calibration's reference holds ${rowCount(embeddings)} embeddings and ${rowCount(fingerprints)} fingerprints for ${file.reference.images} images; calibrate again.`);
  }
  return { embeddings, fingerprints, images: file.reference.images };
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
  if (raw.format !== CALIBRATION_FILE_FORMAT || (raw.version !== 1 && raw.version !== 2)) throw new Error(`${path} is not a DeDe calibration file (version 1 or 2).`);
  // The inner calibration is validated strictly (a hand-edited threshold is refused).
  const calibration = calibrationFromJSON(JSON.stringify(raw.calibration));
  if (!raw.encoder?.sha256 || !raw.decoder?.sha256 || !raw.scorer) throw new Error(`${path} lacks the encoder, decoder or scorer it was made with.`);
  return { ...(raw as CalibrationFile), calibration };
}
