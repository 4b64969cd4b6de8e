// What a file really is, from its first bytes (never from its name), and the image size its header
// declares, so an oversized image is refused before the browser is asked to decode it. Pure: no DOM.

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'bmp' | 'avif';

export const IMAGE_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'gif', 'bmp', 'avif'];

export const FORMAT_LABEL: Record<ImageFormat, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  webp: 'WebP',
  gif: 'GIF',
  bmp: 'BMP',
  avif: 'AVIF',
};

/** How many leading bytes the sniffer and the header reader want (JPEG's SOF can sit after EXIF). */
export const SNIFF_BYTES = 64 * 1024;

export type Sniffed =
  | { readonly kind: 'image'; readonly format: ImageFormat }
  /** Recognised, but not an image the app can use; `what` reads after "looks like" (e.g. "a PDF"). */
  | { readonly kind: 'other'; readonly what: string; readonly hint?: string }
  | { readonly kind: 'unknown' };

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

function ascii(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < Math.min(to, b.length); i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** ISO-BMFF `ftyp` brands: AVIF is an image; HEIC and MP4 are not decodable here. */
function sniffFtyp(b: Uint8Array): Sniffed | null {
  if (ascii(b, 4, 8) !== 'ftyp') return null;
  const size = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  const brands = [ascii(b, 8, 12)];
  for (let at = 16; at + 4 <= Math.min(size, b.length, 64); at += 4) brands.push(ascii(b, at, at + 4));
  if (brands.some((x) => x === 'avif' || x === 'avis')) return { kind: 'image', format: 'avif' };
  if (brands.some((x) => /^(heic|heix|hevc|heim|heis|mif1)$/.test(x))) {
    return { kind: 'other', what: 'a HEIC photo', hint: 'this browser cannot decode HEIC; export it as JPEG or PNG' };
  }
  return { kind: 'other', what: 'a video (MP4/MOV)' };
}

function looksLikeText(b: Uint8Array): boolean {
  const n = Math.min(b.length, 4096);
  if (n === 0) return false;
  let printable = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 0) return false;
    if (c === 9 || c === 10 || c === 13 || (c >= 32 && c !== 127)) printable++;
  }
  return printable / n > 0.95;
}

/** Identifies a file from its leading bytes (give it up to SNIFF_BYTES). */
export function sniff(b: Uint8Array): Sniffed {
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'image', format: 'png' };
  if (startsWith(b, [0xff, 0xd8, 0xff])) return { kind: 'image', format: 'jpeg' };
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return { kind: 'image', format: 'webp' };
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return { kind: 'image', format: 'gif' };
  if (ascii(b, 0, 2) === 'BM' && b.length >= 26) return { kind: 'image', format: 'bmp' };
  const ftyp = sniffFtyp(b);
  if (ftyp) return ftyp;
  if (ascii(b, 0, 5) === '%PDF-') return { kind: 'other', what: 'a PDF' };
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { kind: 'other', what: 'a TIFF image', hint: 'browsers cannot decode TIFF; export it as PNG' };
  }
  if (ascii(b, 0, 4) === '8BPS') return { kind: 'other', what: 'a Photoshop document' };
  if (startsWith(b, [0x00, 0x00, 0x01, 0x00])) return { kind: 'other', what: 'an icon file (ICO)' };
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04])) return { kind: 'other', what: 'a ZIP archive', hint: 'unpack it and add the folder' };
  if (startsWith(b, [0x1f, 0x8b])) return { kind: 'other', what: 'a gzip archive', hint: 'unpack it and add the folder' };
  if (ascii(b, 0, 4) === '\x7fELF' || ascii(b, 0, 2) === 'MZ') return { kind: 'other', what: 'a program' };
  if (ascii(b, 0, 4) === 'RIFF') return { kind: 'other', what: 'audio or video (RIFF)' };
  if (ascii(b, 0, 3) === 'ID3' || startsWith(b, [0xff, 0xfb])) return { kind: 'other', what: 'an MP3' };
  if (looksLikeText(b)) {
    const head = ascii(b, 0, 1024).trimStart().toLowerCase();
    if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) {
      return { kind: 'other', what: 'an SVG drawing', hint: 'vector images are not supported; export it as PNG' };
    }
    if (head.startsWith('<!doctype html') || head.startsWith('<html')) return { kind: 'other', what: 'a web page' };
    if (head.startsWith('{') || head.startsWith('[')) return { kind: 'other', what: 'JSON text' };
    return { kind: 'other', what: 'text' };
  }
  return { kind: 'unknown' };
}

const EXTENSIONS: Record<string, ImageFormat> = {
  png: 'png',
  jpg: 'jpeg',
  jpeg: 'jpeg',
  jpe: 'jpeg',
  jfif: 'jpeg',
  webp: 'webp',
  gif: 'gif',
  bmp: 'bmp',
  dib: 'bmp',
  avif: 'avif',
};

/** The image format a file name claims, or null when its extension is not an image one. */
export function formatFromName(name: string): ImageFormat | null {
  const dot = name.lastIndexOf('.');
  if (dot < 0) return null;
  return EXTENSIONS[name.slice(dot + 1).toLowerCase()] ?? null;
}

/** A note when the name claims another format than the bytes (the file is still used). */
export function extensionNote(name: string, actual: ImageFormat): string | null {
  const claimed = formatFromName(name);
  if (claimed === actual) return null;
  const ext = name.includes('.') ? `.${name.split('.').pop()}` : 'no extension';
  return claimed
    ? `named ${ext} but is a ${FORMAT_LABEL[actual]} image`
    : `${ext === 'no extension' ? 'has no extension' : `named ${ext}`} but is a ${FORMAT_LABEL[actual]} image`;
}

export interface Dimensions {
  readonly width: number;
  readonly height: number;
}

function u16be(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}
function u16le(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
function u24le(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
}
function u32be(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
function i32le(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}

function jpegDimensions(b: Uint8Array): Dimensions | null {
  let at = 2;
  while (at + 9 < b.length) {
    if (b[at] !== 0xff) return null;
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const length = u16be(b, at + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: u16be(b, at + 5), width: u16be(b, at + 7) };
    }
    if (marker === 0xda || length < 2) return null;
    at += 2 + length;
  }
  return null;
}

function webpDimensions(b: Uint8Array): Dimensions | null {
  const chunk = ascii(b, 12, 16);
  if (chunk === 'VP8X' && b.length >= 30) return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  if (chunk === 'VP8L' && b.length >= 25) {
    const bits = (b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24)) >>> 0;
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ' && b.length >= 30) return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  return null;
}

/**
 * AVIF states sizes in `ispe` (image spatial extent) properties: one per item, and a grid image's
 * own one covers its tiles, so the largest is the picture's. The box is: size, 'ispe', version and
 * flags (4 bytes), width, height (u32 each).
 */
function avifDimensions(b: Uint8Array): Dimensions | null {
  let best: Dimensions | null = null;
  for (let at = 4; at + 16 <= b.length; at++) {
    if (b[at] !== 0x69 || ascii(b, at, at + 4) !== 'ispe' || u32be(b, at - 4) !== 20) continue;
    const d = { width: u32be(b, at + 8), height: u32be(b, at + 12) };
    if (best === null || d.width * d.height > best.width * best.height) best = d;
  }
  return best;
}

/**
 * The size an image header declares, or null when the header does not say (a cut-off JPEG header,
 * an AVIF without `ispe`): then the decoded size is checked instead.
 */
export function declaredDimensions(b: Uint8Array, format: ImageFormat): Dimensions | null {
  switch (format) {
    case 'png':
      return b.length >= 24 && ascii(b, 12, 16) === 'IHDR' ? { width: u32be(b, 16), height: u32be(b, 20) } : null;
    case 'gif':
      return b.length >= 10 ? { width: u16le(b, 6), height: u16le(b, 8) } : null;
    case 'bmp': {
      if (b.length < 26) return null;
      const headerSize = i32le(b, 14);
      if (headerSize === 12) return { width: u16le(b, 18), height: u16le(b, 20) };
      return { width: Math.abs(i32le(b, 18)), height: Math.abs(i32le(b, 22)) };
    }
    case 'jpeg':
      return jpegDimensions(b);
    case 'webp':
      return webpDimensions(b);
    case 'avif':
      return avifDimensions(b.subarray(0, SNIFF_BYTES));
  }
}
