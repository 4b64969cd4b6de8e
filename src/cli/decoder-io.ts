// Decoder files on disk: the standard ONNX export with its config and training record.
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { DecoderConfig } from '../core/dede/config';
import { exportDecoder, importDecoder, type DecoderMeta, type ImportedDecoder } from '../core/dede/decoder-file';
import type { DecoderWeights } from '../core/dede/params';
import { errorText } from '../core/runtime/error-text';

export async function writeDecoderFile(path: string, cfg: DecoderConfig, weights: DecoderWeights, meta: DecoderMeta): Promise<void> {
  await writeFile(`${path}.tmp`, exportDecoder(cfg, weights, meta));
  await rename(`${path}.tmp`, path);
}

export interface CliDecoder extends ImportedDecoder {
  readonly path: string;
  readonly sha256: string;
}

export async function readDecoderFile(path: string): Promise<CliDecoder> {
  const bytes = await readFile(path).catch(() => {
    throw new Error(`Cannot read the decoder file ${path}.`);
  });
  try {
    return { ...importDecoder(new Uint8Array(bytes)), path, sha256: createHash('sha256').update(bytes).digest('hex') };
  } catch (err) {
    throw new Error(`${path} is not a DeDe decoder this version can load: ${errorText(err)}`);
  }
}
