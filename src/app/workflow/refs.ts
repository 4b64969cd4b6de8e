// How the UI names the encoder and a dataset to the model worker.
import type { DatasetRef, EncoderFileRef } from '../../../workers/model-api';
import type { EncoderRecord } from '../encoder/encoder-store';
import type { DatasetSummary } from '../images/images-store';

export function encoderFileRef(encoder: EncoderRecord): EncoderFileRef {
  if (!encoder.check.ok) throw new Error(`The loaded model is not an image encoder: ${encoder.check.reason}`);
  if (!encoder.readout) throw new Error(`Choose the encoder's embedding output on the Encoder step first: ${encoder.readoutQuestion ?? 'none is chosen.'}`);
  const batch = encoder.info.inputs.find((i) => i.name === (encoder.check.ok ? encoder.check.input : ''))?.dims?.[0];
  return {
    key: encoder.key,
    externalData: encoder.externalData,
    name: encoder.name,
    sha256: encoder.sha256,
    inputName: encoder.check.input,
    readout: { output: encoder.readout.output, pooling: encoder.readout.pooling, reason: encoder.readout.reason },
    fixedBatch: typeof batch === 'number' && batch > 0 ? batch : null,
  };
}

export function datasetRef(dataset: DatasetSummary): DatasetRef {
  return { id: dataset.id, layout: dataset.layout, count: dataset.counts.images };
}
