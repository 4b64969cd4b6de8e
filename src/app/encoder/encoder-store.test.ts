import { describe, expect, it } from 'vitest';
import { vitModelBytes } from '../../testing/hf-encoders';
import { tinyEncoderBytes } from '../../testing/tiny-encoder';
import { inspectModel } from '../../core/onnx/inspect';
import { upgradeEncoderRecord } from './encoder-store';

/** A record as version 1 saved it: the old check (one output), embeddingOutput, no readout. */
function savedByVersion1(bytes: Uint8Array, output: string, embeddingOutput: string | null) {
  const info = inspectModel(bytes);
  return {
    key: 'k', name: 'model.onnx', origin: 'local', sourceUrl: null, repo: null, revision: null, commit: null, size: bytes.length, sha256: 'f'.repeat(64),
    externalData: [], info, check: { ok: true, input: 'pixel_values', output, embeddingDim: 128, inputSize: { h: 32, w: 32 } },
    embeddingOutput, preprocessing: null, preprocessingNote: 'none', notices: [], modelConfig: null,
  };
}

describe('upgradeEncoderRecord (saves from before readouts)', () => {
  it('keeps the output the encoder used, with the new check and no stale field', () => {
    const up = upgradeEncoderRecord(JSON.parse(JSON.stringify(savedByVersion1(tinyEncoderBytes(), 'embedding', null))));
    expect(up?.readout).toEqual({ output: 'embedding', pooling: 'none', dim: 128, reason: 'embedding is the output this encoder used before embedding readouts could be chosen.' });
    expect(up?.readoutQuestion).toBeNull();
    expect(up?.check).toMatchObject({ ok: true, inputType: 'float32', candidates: [{ output: 'embedding' }] });
    expect(up && 'embeddingOutput' in up).toBe(false);
    expect(up?.sha256).toBe('f'.repeat(64));
  });

  it('prefers the output the user had picked', () => {
    expect(upgradeEncoderRecord(savedByVersion1(vitModelBytes(), 'last_hidden_state', 'pooler_output'))?.readout).toMatchObject({ output: 'pooler_output', pooling: 'none' });
  });

  it('asks when the saved output can no longer be read as it was (a token sequence needs a pooling)', () => {
    const up = upgradeEncoderRecord(savedByVersion1(vitModelBytes(), 'last_hidden_state', null));
    expect(up?.readout).toBeNull();
    expect(up?.readoutQuestion).toMatch(/^the model has 2 candidate outputs/);
  });

  it('drops what cannot be a record', () => {
    expect(upgradeEncoderRecord(null)).toBeNull();
    expect(upgradeEncoderRecord({ name: 'x' })).toBeNull();
  });
});
