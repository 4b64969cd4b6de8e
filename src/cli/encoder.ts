// The encoder as the CLI sees it: the ONNX file, what inspection says, and its preprocessing from
// the nearest preprocessor_config.json (beside it or in a folder above, see find-config.ts) or from flags.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { preprocessingFromHf, type Preprocessing } from '../core/images/preprocess';
import { readEncoderFile } from '../core/onnx/encoder-file';
import { describeExternalData } from '../core/onnx/encoder-policy';
import type { ModelInfo } from '../core/onnx/inspect';
import { chosenReadout, defaultReadout, formatReadoutFlag, parseReadoutFlag, readoutOptions, type ReadoutCandidate, type ReadoutChoice, type ReadoutRecord } from '../core/onnx/readout';
import type { EncoderSpec } from '../core/dede/encoder-runner';
import { UsageError } from './args';
import { findConfigUpwards } from './find-config';
import { chooseEncoderDevice, type CliDevice, type DeviceChoice } from './device';

export interface CliEncoder {
  readonly path: string;
  readonly sha256: string;
  readonly spec: EncoderSpec;
  readonly preprocessing: Preprocessing;
  /** The embedding readout (also in spec.readout), why, and its size when the model fixes it. */
  readonly readout: ReadoutChoice;
  /** The preprocessor_config.json that was read, when one was. */
  readonly configPath: string | null;
  /** Where the encoder runs (--device). */
  readonly device: DeviceChoice;
}

export interface PreprocessingFlags {
  readonly size?: number;
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
}

export interface ReadoutFlags {
  /** --output NAME[:pooling] */
  readonly output?: string;
  /** The readout a decoder was trained on: used when --output is not given. */
  readonly trainedOn?: ReadoutRecord;
}

export async function loadCliEncoder(path: string, flags: PreprocessingFlags, readoutFlags: ReadoutFlags = {}, device: CliDevice = 'cpu'): Promise<CliEncoder> {
  const bytes = new Uint8Array(await readFile(path).catch(() => {
    throw new Error(`Cannot read the encoder file ${path}.`);
  }));
  const { info, check } = readEncoderFile(path, bytes, true);
  if (info.externalData.length > 0) throw new Error(`${path} keeps its weights in separate files (${describeExternalData(info)}); the CLI cannot read external data yet.`);
  if (!check.ok) throw new Error(`${path} is not an image encoder: ${check.reason}`);
  const readout = await chooseReadout(path, info, check.candidates, readoutFlags);
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
    // A size by hand stretches the photo to size×size (lanczos), as the CLI always did.
    preprocessing = preprocessingFromHf({ size, image_mean: flags.mean, image_std: flags.std, resample: 1 }, null);
    preprocessing = { ...preprocessing, origin: 'command-line flags' };
  }
  if (flags.size && configText !== null) preprocessing = { ...preprocessing, height: flags.size, width: flags.size };
  const choice = await chooseEncoderDevice(device, bytes);
  if (device !== 'cpu') process.stderr.write(`${choice.note}\n`);
  return {
    device: choice,
    path,
    configPath: configText !== null && !flags.mean && !flags.std ? configPath : null,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    preprocessing,
    readout,
    spec: {
      bytes,
      inputName: check.input,
      readout,
      height: preprocessing.height,
      width: preprocessing.width,
      fixedBatch: typeof batchDim === 'number' && batchDim > 0 ? batchDim : null,
    },
  };
}

export const OUTPUT_HELP = `  --output NAME[:pooling]
                       the encoder output read as the embedding, and how it is pooled: none ([N, D]),
                       flatten ([N, D, 1, 1]), avgpool ([N, C, H, W]), cls or patch-mean ([N, T, D]);
                       default: from the model's config.json (beside it or above; or the decoder's record)
`;

/** The model's nearest config.json (beside it or in a folder above), or null when there is none. */
async function readModelConfig(modelPath: string): Promise<unknown> {
  const found = (await findConfigUpwards(modelPath, 'config.json')).found;
  if (found === null) return null;
  try {
    return JSON.parse(found.text) as unknown;
  } catch {
    throw new Error(`${found.path} is not valid JSON.`);
  }
}

/** --output, else the decoder's record, else the default from config.json beside the model. */
async function chooseReadout(path: string, info: ModelInfo, candidates: readonly ReadoutCandidate[], flags: ReadoutFlags): Promise<ReadoutChoice> {
  const choices = readoutOptions(candidates).map(formatReadoutFlag).join(', ');
  if (flags.output !== undefined) {
    const parsed = parseReadoutFlag(flags.output, candidates);
    if (typeof parsed === 'string') throw new UsageError(`--output: ${parsed}`);
    return chosenReadout(candidates, parsed, 'chosen with --output.')!;
  }
  if (flags.trainedOn) {
    const recorded = chosenReadout(candidates, flags.trainedOn, flags.trainedOn.reason ?? 'the readout the decoder was trained on.');
    if (!recorded) throw new Error(`The decoder was trained on the encoder output ${formatReadoutFlag(flags.trainedOn)}, which ${path} does not have (it has ${choices}): use the encoder it was trained with.`);
    return recorded;
  }
  const config = await readModelConfig(path);
  const d = defaultReadout(info, config);
  if (!d.ok) throw new UsageError(`${path}: ${d.reason} Give it with --output NAME[:pooling], one of: ${choices}.`);
  return d.choice;
}
