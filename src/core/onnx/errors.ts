// Errors raised while reading ONNX bytes. One class with a discriminating `code`, so that callers
// (UI, CLI) can tell "this file is broken" from "this file is fine but we can't use it".

export type OnnxErrorCode =
  /** The bytes are not a well-formed ONNX model (random data, truncated file, other format). */
  | 'malformed'
  /** Well-formed ONNX that uses something this code does not handle (e.g. a float16 tensor). */
  | 'unsupported'
  /** An initializer keeps its payload in a separate file that was not provided. */
  | 'external-data';

export class OnnxFormatError extends Error {
  readonly code: OnnxErrorCode;

  constructor(message: string, code: OnnxErrorCode = 'malformed', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OnnxFormatError';
    this.code = code;
  }
}

/** Recognises the files people most often pick by mistake (or download as an error page). */
export function sniffFormat(b: Uint8Array): string | null {
  const ascii = (n: number) => String.fromCharCode(...b.subarray(0, n));
  if (ascii(4) === 'PK\x03\x04') return 'a zip archive (a PyTorch .pt/.pth checkpoint?); export it with torch.onnx.export';
  if (ascii(4) === '\x89PNG' || ascii(3) === '\xff\xd8\xff') return 'an image';
  if (ascii(4) === 'GGUF') return 'a GGUF model';
  if (b.length > 9 && b[8] === 0x7b && b[9] === 0x22) return 'a safetensors file';
  const head = ascii(Math.min(b.length, 64)).trimStart().toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return 'a web page (HTML), maybe a download error page';
  if (head.startsWith('{') || head.startsWith('[')) return 'a JSON document';
  if (head.startsWith('version https://git-lfs')) return 'a Git LFS pointer (the real file was not downloaded)';
  return null;
}
