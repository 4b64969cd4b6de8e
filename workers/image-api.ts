// The typed contract between the UI and the image decode workers. Both sides import only this file.
import type { FitMode } from '../src/core/images/dataset';
import type { ResizePlan } from '../src/core/images/resize-plan';
import type { UnreadableKind } from '../src/core/images/reasons';
import type { ImageFormat } from '../src/core/images/sniff';

export interface DecodeOptions {
  /** Working resolution (square). */
  readonly size: number;
  /** Separate thumbnail size, or null when the working pixels serve as the thumbnail. */
  readonly thumbSize: number | null;
  /** Images with a longer side than this are refused before decoding. */
  readonly maxSide: number;
  /** How a non-square photo becomes square when there is no resize plan (the browser's own resize). */
  readonly fit: FitMode;
  /**
   * An encoder's resize plan (HF image processor: resize, resample filter, centre crop), applied to
   * the full-resolution photo exactly as the CLI applies it. Its output must be size×size. When
   * absent or null, `fit` and the browser's resize are used.
   */
  readonly resize?: ResizePlan | null;
}

export interface DecodeRequest {
  /** Identifies the result; the worker echoes it. */
  readonly id: number;
  /** A File or Blob: structured-cloned by reference, the worker reads the bytes itself. */
  readonly file: Blob;
  readonly path: string;
}

export type DecodeResult =
  | {
      readonly id: number;
      readonly ok: true;
      readonly format: ImageFormat;
      readonly bytes: number;
      readonly width: number;
      readonly height: number;
      /** SHA-256 of the file's bytes, hex. */
      readonly sha256: string;
      readonly note: string | null;
      /** size×size×3 interleaved RGB, transferred. */
      readonly pixels: Uint8Array;
      readonly thumb: Uint8Array | null;
    }
  | {
      readonly id: number;
      readonly ok: false;
      readonly bytes: number;
      readonly kind: UnreadableKind;
      readonly reason: string;
    };

export interface ImageWorkerApi {
  /** Decodes a batch; never throws for a bad file (it becomes an `ok: false` result). */
  decodeBatch(requests: readonly DecodeRequest[], options: DecodeOptions): Promise<DecodeResult[]>;
}
