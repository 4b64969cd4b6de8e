// What can be decided about an image file before anything decodes it: empty, not an image, or a
// header that declares no pixels or more than the size limit. Shared by the browser's decode
// workers and the CLI, so both give the same reasons. Pure: no DOM.
import { emptyFile, notAnImage, tooLarge, zeroSized, type Unreadable } from './reasons';
import { declaredDimensions, sniff, SNIFF_BYTES, type Dimensions, type ImageFormat } from './sniff';

export type Triage =
  | { readonly ok: true; readonly format: ImageFormat; readonly declared: Dimensions | null }
  | ({ readonly ok: false } & Unreadable);

/**
 * A refusal made from the file's first SNIFF_BYTES is final (every header field read lies there),
 * but an image accepted from its head must be triaged again on the whole file: a JPEG's frame
 * header may follow more metadata than that, and an image whose size is not checked here is
 * decoded at full size (16k² is 1 GiB of RGBA).
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

function indexOf(b: Uint8Array, sig: readonly number[], from = 0): number {
  outer: for (let i = from; i + sig.length <= b.length; i++) {
    for (let j = 0; j < sig.length; j++) if (b[i + j] !== sig[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Whether a file that failed to decode stops before its format's end marker: the usual cause is an
 * interrupted download or copy, which the user can fix by fetching it again. Conservative: formats
 * without a checkable end, and JPEGs holding any end marker (an EXIF thumbnail has one), say no.
 */
export function endsEarly(bytes: Uint8Array, format: ImageFormat): boolean {
  switch (format) {
    case 'png':
      return indexOf(bytes, [0x49, 0x45, 0x4e, 0x44], Math.max(8, bytes.length - 64)) < 0; // "IEND"
    case 'jpeg':
      return indexOf(bytes, [0xff, 0xd9], 2) < 0;
    case 'webp': {
      if (bytes.length < 8) return true;
      const riffSize = (bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24)) >>> 0;
      return bytes.length < riffSize + 8;
    }
    default:
      return false;
  }
}

/** The detail added to "corrupt X" when the file ends early. */
export const ENDS_EARLY = 'the file ends early: an interrupted download or copy? fetch or copy it again';
