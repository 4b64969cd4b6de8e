// Reading a file the user offers as the encoder, up to the verdict the UI shows: a broken file is
// an error naming the file and what is wrong with it; a well-formed model that is not an image
// encoder comes back with the check's reason (shown as a refusal). Pure: no DOM, no runtime.
import { OnnxFormatError } from './errors';
import { checkImageEncoder, describeExternalData, externalDataProblem, type ImageEncoderCheck } from './encoder-policy';
import { inspectModel, type ModelInfo } from './inspect';

/** Why a file could not be read as a model at all. */
export type EncoderFileProblem = 'empty' | 'malformed' | 'external-data';

export class EncoderFileError extends Error {
  override readonly name = 'EncoderFileError';
  constructor(
    message: string,
    readonly problem: EncoderFileProblem,
  ) {
    super(message);
  }
}

export interface EncoderFile {
  readonly info: ModelInfo;
  readonly check: ImageEncoderCheck;
}

/**
 * @param siblingsReachable whether external data files can be fetched beside the model (a hub repo
 *   or URL); a lone local file cannot bring them.
 * @throws EncoderFileError
 */
export function readEncoderFile(name: string, bytes: Uint8Array, siblingsReachable: boolean): EncoderFile {
  if (bytes.length === 0) throw new EncoderFileError(`${name} is empty (0 bytes).`, 'empty');
  let info: ModelInfo;
  try {
    info = inspectModel(bytes);
  } catch (err) {
    if (err instanceof OnnxFormatError) throw new EncoderFileError(`${name} is not a usable ONNX model: ${err.message}`, 'malformed');
    throw err;
  }
  const tooBig = externalDataProblem(info);
  if (tooBig) throw new EncoderFileError(`${name} cannot be loaded: ${tooBig}.`, 'external-data');
  if (!siblingsReachable && info.externalData.length > 0) {
    throw new EncoderFileError(
      `${name} keeps its weights in separate files (${describeExternalData(info)}); load it from its hub repo or URL instead, where those files can be fetched beside it.`,
      'external-data',
    );
  }
  return { info, check: checkImageEncoder(info) };
}

/**
 * ONNX is one protobuf message, and protobuf cannot exceed 2 GiB: a larger file is not a model this
 * (or any) runtime can read, so it is refused from its size before it is read into memory.
 */
export const MAX_ONNX_FILE_BYTES = 2 * 1024 ** 3;

/** @throws EncoderFileError when a file of this size cannot be an ONNX model. */
export function checkEncoderFileSize(name: string, bytes: number): void {
  if (bytes <= MAX_ONNX_FILE_BYTES) return;
  throw new EncoderFileError(
    `${name} is ${(bytes / 1e9).toFixed(1)} GB; a single .onnx file cannot exceed 2 GB (the protobuf limit), so this is not a model file ONNX Runtime can read. Large models keep their weights in external data files beside a small .onnx.`,
    'malformed',
  );
}
