// Options shared by `calibrate` and `scan`: the encoder, the decoder and how images are scored.
import type { RobustAggregate } from '../core/dede/scores';
import type { ScorerSettings } from '../core/dede/scorer';
import { num, numberList, optionalNum, positiveInt, required, UsageError, type Options } from './args';
import { readDecoderFile, type CliDecoder } from './decoder-io';
import { loadCliEncoder, OUTPUT_HELP, type CliEncoder } from './encoder';
import { DEVICE_HELP, parseDevice } from './device';
import { formatReadoutFlag, sameReadout } from '../core/onnx/readout';

export const SCORER_OPTIONS: Options = {
  encoder: { type: 'string' },
  decoder: { type: 'string' },
  images: { type: 'string' },
  out: { type: 'string' },
  rounds: { type: 'string' },
  aggregate: { type: 'string' },
  mean: { type: 'string' },
  std: { type: 'string' },
  'encoder-size': { type: 'string' },
  output: { type: 'string' },
  device: { type: 'string' },
};

export const SCORER_HELP = `  --encoder FILE       the SSL encoder (.onnx); the nearest preprocessor_config.json
                       (beside it, or up to 2 folders above, e.g. a repo root above onnx/) is read
  --decoder FILE       the trained decoder (.onnx, from dede train)
  --images DIR         folder of images (read recursively)
  --rounds R           random masks averaged per image when patches stay visible (default 8)
  --aggregate median|trimmed
                       per-image score from the masked patches' errors (default median)
  --mean r,g,b --std r,g,b --encoder-size N
                       the encoder's normalisation when it has no preprocessor_config.json
${OUTPUT_HELP}${DEVICE_HELP}`;

export interface ScoringInputs {
  readonly encoder: CliEncoder;
  readonly decoder: CliDecoder;
  readonly settings: ScorerSettings;
  readonly images: string;
}

export function aggregateFrom(value: string | undefined): RobustAggregate {
  if (value === undefined || value === 'median') return { kind: 'median' };
  if (value === 'trimmed') return { kind: 'trimmedMean', trim: 0.25 };
  throw new UsageError(`--aggregate must be median or trimmed, got ${value}.`);
}

export async function scoringInputs(v: Record<string, string | boolean | undefined>): Promise<ScoringInputs> {
  const encoderSize = optionalNum(v, 'encoder-size', positiveInt);
  const mean = numberList(v, 'mean', 3);
  const std = numberList(v, 'std', 3);
  const images = required(v, 'images');
  const decoder = await readDecoderFile(required(v, 'decoder'));
  const trainedOn = decoder.meta.encoder?.readout;
  const output = v['output'] as string | undefined;
  const device = parseDevice(v['device']);
  const encoder = await loadCliEncoder(
    required(v, 'encoder'),
    {
      ...(encoderSize !== undefined ? { size: encoderSize } : {}),
      ...(mean ? { mean } : {}),
      ...(std ? { std } : {}),
    },
    { ...(output !== undefined ? { output } : {}), ...(trainedOn ? { trainedOn } : {}) },
    device,
  );
  if (trainedOn && !sameReadout(trainedOn, encoder.readout)) {
    throw new UsageError(`--output ${formatReadoutFlag(encoder.readout)}: ${decoder.path} was trained on ${formatReadoutFlag(trainedOn)}; its scores only mean something on that embedding (drop --output).`);
  }
  const settings: ScorerSettings = {
    rounds: num(v, 'rounds', 8, positiveInt),
    aggregate: aggregateFrom(v['aggregate'] as string | undefined),
  };
  return { encoder, decoder, settings, images };
}
