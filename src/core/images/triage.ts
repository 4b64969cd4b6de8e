// What can be decided about an image file before anything decodes it: empty, not an image, or a
// header that declares no pixels or more than the size limit. Shared by the browser's decode
// workers and the CLI, so both give the same reasons. Pure: no DOM.
import { emptyFile, notAnImage, tooLarge, zeroSized, type Unreadable } from './reasons';
import { declaredDimensions, sniff, SNIFF_BYTES, type Dimensions, type ImageFormat } from './sniff';

export type Triage =
  | { readonly ok: true; readonly format: ImageFormat; readonly declared: Dimensions | null }
  | ({ readonly ok: false } & Unreadable);

/**
 * Give it the whole file: a JPEG's frame header may follow more than SNIFF_BYTES of metadata, and
 * an image whose size is not checked here is decoded at full size (16k² is 1 GiB of RGBA).
 */
export function triageImage(bytes: Uint8Array, maxSide: number): Triage {
  if (bytes.length === 0) return { ok: false, ...emptyFile() };
  const sniffed = sniff(bytes.subarray(0, SNIFF_BYTES));
  if (sniffed.kind !== 'image') return { ok: false, ...notAnImage(sniffed) };
  const format = sniffed.format;
  const declared = declaredDimensions(bytes, format);
  if (declared) {
    if (declared.width === 0 || declared.height === 0) return { ok: false, ...zeroSized(declared) };
    if (Math.max(declared.width, declared.height) > maxSide) return { ok: false, ...tooLarge(declared, maxSide) };
  }
  return { ok: true, format, declared };
}
