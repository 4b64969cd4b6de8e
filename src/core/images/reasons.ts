// Plain-language reasons a file was not used. Every one names what the file is and, where it helps,
// what to do; none of them stops a folder from loading.
import { FORMAT_LABEL, type Dimensions, type ImageFormat, type Sniffed } from './sniff';

export type UnreadableKind = 'empty' | 'not-image' | 'unsupported' | 'corrupt' | 'too-large' | 'bad-shape' | 'unreadable';

export interface Unreadable {
  readonly kind: UnreadableKind;
  readonly reason: string;
}

export const MAX_SIDE_DEFAULT = 8192;

export function emptyFile(): Unreadable {
  return { kind: 'empty', reason: 'empty file (0 bytes)' };
}

export function notAnImage(sniffed: Exclude<Sniffed, { kind: 'image' }>): Unreadable {
  if (sniffed.kind === 'unknown') return { kind: 'not-image', reason: 'not an image (unknown file type)' };
  const hint = sniffed.hint ? `; ${sniffed.hint}` : '';
  const unsupported = sniffed.hint !== undefined && /cannot decode|not supported/.test(sniffed.hint);
  return { kind: unsupported ? 'unsupported' : 'not-image', reason: `not an image (looks like ${sniffed.what})${hint}` };
}

export function corrupt(format: ImageFormat, detail?: string): Unreadable {
  const avif = format === 'avif' ? ' (it may be damaged, or this browser lacks AVIF support)' : '';
  return { kind: 'corrupt', reason: `corrupt ${FORMAT_LABEL[format]}: the browser could not decode it${avif}${detail ? ` (${detail})` : ''}` };
}

export function tooLarge(d: Dimensions, maxSide: number): Unreadable {
  return { kind: 'too-large', reason: `image is ${d.width}×${d.height}, larger than the ${maxSide} px limit` };
}

/** A photo the encoder's preprocessing cannot use (a sliver that would scale to nothing or to gigapixels). */
export function badShape(detail: string): Unreadable {
  return { kind: 'bad-shape', reason: `unusable shape: ${detail}` };
}

export function zeroSized(d: Dimensions): Unreadable {
  return { kind: 'corrupt', reason: `image header says ${d.width}×${d.height}, which has no pixels` };
}

export function cannotRead(detail: string): Unreadable {
  return {
    kind: 'unreadable',
    reason: `the file could not be read (${detail}); it may have been moved, deleted or be locked by another program`,
  };
}

/** Short, stable labels for grouping the error list. */
export const UNREADABLE_LABEL: Record<UnreadableKind, string> = {
  empty: 'Empty',
  'not-image': 'Not an image',
  unsupported: 'Unsupported format',
  corrupt: 'Corrupt',
  'too-large': 'Too large',
  'bad-shape': 'Unusable shape',
  unreadable: 'Could not read',
};
