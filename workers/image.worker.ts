// Image decode worker: reads a file, identifies it by its bytes, hashes it, and decodes it straight
// to working resolution with createImageBitmap (resizeQuality 'high') and an OffscreenCanvas. A bad
// file becomes a plain-language reason, never an exception. Several of these run as a pool.
import './network-report';
import * as Comlink from 'comlink';
import { sha256Hex } from '../src/core/hub/download';
import { fitRect, rgbaToRgb } from '../src/core/images/pixels';
import { cannotRead, corrupt, emptyFile, tooLarge, zeroSized, type Unreadable } from '../src/core/images/reasons';
import { extensionNote, SNIFF_BYTES, type ImageFormat } from '../src/core/images/sniff';
import { endsEarly, ENDS_EARLY, triageImage } from '../src/core/images/triage';
import type { DecodeOptions, DecodeRequest, DecodeResult, ImageWorkerApi } from './image-api';

const canvases = new Map<number, OffscreenCanvasRenderingContext2D>();

function contextFor(size: number): OffscreenCanvasRenderingContext2D {
  let ctx = canvases.get(size);
  if (!ctx) {
    const made = new OffscreenCanvas(size, size).getContext('2d', { willReadFrequently: true, alpha: true });
    if (!made) throw new Error('This browser has no 2D OffscreenCanvas in workers.');
    ctx = made;
    canvases.set(size, ctx);
  }
  return ctx;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resizes a source rectangle of `source` to size×size and reads it back as RGB. */
async function toRgb(source: ImageBitmapSource, rect: { sx: number; sy: number; sw: number; sh: number }, size: number): Promise<Uint8Array> {
  const resized = await createImageBitmap(source, rect.sx, rect.sy, rect.sw, rect.sh, {
    resizeWidth: size,
    resizeHeight: size,
    resizeQuality: 'high',
    premultiplyAlpha: 'none',
    imageOrientation: 'from-image',
  });
  try {
    const ctx = contextFor(size);
    ctx.clearRect(0, 0, size, size);
    ctx.drawImage(resized, 0, 0);
    return rgbaToRgb(ctx.getImageData(0, 0, size, size).data);
  } finally {
    resized.close();
  }
}

type Outcome = Omit<Extract<DecodeResult, { ok: true }>, 'id'> | (Unreadable & { bytes: number });

async function decodeOne(req: DecodeRequest, options: DecodeOptions): Promise<Outcome> {
  const bytesLength = req.file.size;
  if (bytesLength === 0) return { ...emptyFile(), bytes: 0 };
  let bytes: Uint8Array;
  try {
    // The head alone settles most refusals, so a multi-GB video or archive is never read whole.
    const head = new Uint8Array(await req.file.slice(0, SNIFF_BYTES).arrayBuffer());
    const early = triageImage(head, options.maxSide);
    if (!early.ok) return { kind: early.kind, reason: early.reason, bytes: bytesLength };
    bytes = bytesLength <= head.length ? head : new Uint8Array(await req.file.arrayBuffer());
  } catch (err) {
    return { ...cannotRead(message(err)), bytes: bytesLength };
  }
  const triage = triageImage(bytes, options.maxSide);
  if (!triage.ok) return { kind: triage.kind, reason: triage.reason, bytes: bytesLength };
  const format: ImageFormat = triage.format;
  const sha256 = await sha256Hex(bytes);
  let full: ImageBitmap;
  try {
    full = await createImageBitmap(req.file, { premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch {
    return { ...corrupt(format, endsEarly(bytes, format) ? ENDS_EARLY : undefined), bytes: bytesLength };
  }
  try {
    const { width, height } = full;
    if (width === 0 || height === 0) return { ...zeroSized({ width, height }), bytes: bytesLength };
    if (Math.max(width, height) > options.maxSide) return { ...tooLarge({ width, height }, options.maxSide), bytes: bytesLength };
    const rect = fitRect(width, height, options.fit);
    const pixels = await toRgb(full, rect, options.size);
    const thumb = options.thumbSize !== null ? await toRgb(full, rect, options.thumbSize) : null;
    const name = req.path.split('/').pop() ?? req.path;
    return { ok: true, format, bytes: bytesLength, width, height, sha256, note: extensionNote(name, format), pixels, thumb };
  } catch (err) {
    return { ...corrupt(format, message(err)), bytes: bytesLength };
  } finally {
    full.close();
  }
}

const api: ImageWorkerApi = {
  async decodeBatch(requests, options) {
    const results: DecodeResult[] = [];
    for (const req of requests) {
      const outcome = await decodeOne(req, options);
      results.push('ok' in outcome ? { id: req.id, ...outcome } : { id: req.id, ok: false, bytes: outcome.bytes, kind: outcome.kind, reason: outcome.reason });
    }
    const buffers = results.flatMap((r) => (r.ok ? [r.pixels.buffer as ArrayBuffer, ...(r.thumb ? [r.thumb.buffer as ArrayBuffer] : [])] : []));
    return Comlink.transfer(results, buffers);
  },
};

Comlink.expose(api);
