import { describe, expect, it } from 'vitest';
import { decoderSizeFor, patchSizeFor, patchSizesFor } from './decoder-size';

describe('decoderSizeFor', () => {
  it('learns at 32×32 by default on a 224-px encoder, and at 64 when asked', () => {
    expect(decoderSizeFor(224, null)).toMatchObject({ size: 32, reason: expect.stringMatching(/32×32, an area-averaged copy of the 224×224 crop/) });
    expect(decoderSizeFor(224, 64)).toMatchObject({ size: 64, reason: expect.stringMatching(/64×64 \(chosen in the settings\)/) });
    expect(decoderSizeFor(224, 32).size).toBe(32);
  });

  it('never upsamples: small images keep their own size', () => {
    expect(decoderSizeFor(32, null)).toMatchObject({ size: 32, reason: expect.stringMatching(/their own size/) });
    expect(decoderSizeFor(32, 64).size).toBe(32);
    expect(decoderSizeFor(16, null).size).toBe(16);
    expect(decoderSizeFor(48, 64)).toMatchObject({ size: 48, reason: expect.stringMatching(/never upsamples/) });
  });

  it('keeps 64 tokens at both sizes by default', () => {
    for (const size of [32, 64]) expect((size / patchSizeFor(size)) ** 2).toBe(64);
    expect(patchSizesFor(32)).toEqual([2, 4, 8]);
    expect(patchSizesFor(64)).toEqual([2, 4, 8, 16]);
  });
});
