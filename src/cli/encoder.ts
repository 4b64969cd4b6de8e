// The encoder as the CLI sees it: the ONNX file, what inspection says, and its preprocessing from
// the nearest preprocessor_config.json (beside it or in a folder above, see find-config.ts) or from flags.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { preprocessingFromHf, type Preprocessing } from '../core/images/preprocess';
import { readEncoderFile } from '../core/onnx/encoder-file';
import { describeExternalData } from '../core/onnx/inspect';
import type { EncoderSpec } from '../core/dede/encoder-runner';
import { findConfigUpwards } from './find-config';

export interface CliEncoder {
  readonly path: string;
  readonly sha256: string;
  readonly spec: EncoderSpec;
  readonly preprocessing: Preprocessing;
  /** The preprocessor_config.json that was read, when one was. */
  readonly configPath: string | null;
}

export interface PreprocessingFlags {
  readonly size?: number;
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
}

export async function loadCliEncoder(path: string, flags: PreprocessingFlags): Promise<CliEncoder> {
  const bytes = new Uint8Array(await readFile(path).catch(() => {
    throw new Error(`Cannot read the encoder file ${path}.`);
  }));
  const { info, check } = readEncoderFile(path, bytes, true);
  if (info.externalData.length > 0) throw new Error(`${path} keeps its weights in separate files (${describeExternalData(info)}); the CLI cannot read external data yet.`);
  if (!check.ok) throw new Error(`${path} is not an image encoder: ${check.reason}`);
  const input = info.inputs.find((i) => i.name === check.input);
  const batchDim = input?.dims?.[0];
  const fallbackSize = check.inputSize ? { height: check.inputSize.h, width: check.inputSize.w } : null;

  let preprocessing: Preprocessing;
  const lookup = await findConfigUpwards(path, 'preprocessor_config.json');
  const configPath = lookup.found?.path ?? null;
  const configText = lookup.found?.text ?? null;
  if (configText !== null && !flags.mean && !flags.std) {
    let config: unknown;
    try {
      config = JSON.parse(configText);
    } catch {
      throw new Error(`${configPath} is not valid JSON.`);
    }
    preprocessing = preprocessingFromHf(config, fallbackSize);
  } else {
    if (!flags.mean || !flags.std) {
      if (configText !== null) throw new Error(`Give both --mean and --std, or neither to use ${configPath}.`);
      throw new Error(
        `No preprocessor_config.json for ${path}: looked for ${lookup.searched.join(', ')} (stopped: ${lookup.stoppedBecause ?? ''}). ` +
          `Put the model's preprocessor_config.json beside it, or give the encoder's normalisation with --mean r,g,b --std r,g,b (and --size if its input size is dynamic).`,
      );
    }
    const size = flags.size ?? fallbackSize?.height;
    if (!size) throw new Error('The encoder input size is dynamic: give it with --size.');
    preprocessing = preprocessingFromHf({ size, image_mean: flags.mean, image_std: flags.std }, null);
    preprocessing = { ...preprocessing, origin: 'command-line flags' };
  }
  if (flags.size && configText !== null) preprocessing = { ...preprocessing, height: flags.size, width: flags.size };
  return {
    path,
    configPath: configText !== null && !flags.mean && !flags.std ? configPath : null,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    preprocessing,
    spec: {
      bytes,
      inputName: check.input,
      outputName: check.output,
      height: preprocessing.height,
      width: preprocessing.width,
      fixedBatch: typeof batchDim === 'number' && batchDim > 0 ? batchDim : null,
    },
  };
}
