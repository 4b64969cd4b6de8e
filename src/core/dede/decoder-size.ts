// The picture size the decoder learns at. The encoder sees its own input size (224 for most Hub
// encoders); the decoder rebuilds an area-averaged copy of that same processed crop at a small
// size, where its cost is what the DeDe recipe budgets for (64 patches of 4 px at 32×32). A score
// that rests on the embedding needs no more pixels than that; 64×64 is offered for finer
// reconstructions and heatmaps. Images never get upsampled for the decoder.

/** Decoder sizes offered when the images are larger. */
export const DECODER_SIZES = [32, 64] as const;
export const DEFAULT_DECODER_SIZE = 32;

export interface DecoderSizeChoice {
  readonly size: number;
  /** Why this size, in the user's words. */
  readonly reason: string;
}

/** `asked` is the user's choice (a DECODER_SIZES value) or null for the default. */
export function decoderSizeFor(workingSize: number, asked: number | null): DecoderSizeChoice {
  const w = `${workingSize}×${workingSize}`;
  if (workingSize <= DEFAULT_DECODER_SIZE) return { size: workingSize, reason: `The images are ${w}: the decoder learns at their own size.` };
  const wanted = asked ?? DEFAULT_DECODER_SIZE;
  if (wanted >= workingSize) return { size: workingSize, reason: `The images are ${w}: the decoder learns at their own size (it never upsamples).` };
  const how = `an area-averaged copy of the ${w} crop the encoder sees`;
  if (asked === null || asked === DEFAULT_DECODER_SIZE) {
    return {
      size: wanted,
      reason: `The decoder learns at ${wanted}×${wanted}, ${how}: the size the DeDe recipe is measured at and the quickest to train. 64×64 draws finer reconstructions and heatmaps, for longer training.`,
    };
  }
  return { size: wanted, reason: `The decoder learns at ${wanted}×${wanted} (chosen in the settings), ${how}.` };
}

/** The default patch for a decoder size: 8×8 patches at 32 and 64 px (the recipe's 64 tokens). */
export function patchSizeFor(size: number): number {
  return size <= 32 ? 4 : size <= 64 ? 8 : 16;
}

/** Patch sizes that tile an image of `size` pixels into at least 4×4 patches. */
export function patchSizesFor(size: number): number[] {
  return [2, 4, 8, 16, 32].filter((p) => size % p === 0 && size / p >= 4);
}
