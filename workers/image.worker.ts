// Image decode worker: reads a file, identifies it by its bytes, hashes it, and decodes it to working
// resolution. With an encoder's resize plan, the photo is decoded at full resolution (EXIF
// orientation applied, no colour management, alpha kept apart) and resized by applyResizePlan, the
// Pillow-exact code the CLI runs too; without one, createImageBitmap resizes it (resizeQuality
// 'high'). A bad file becomes a plain-language reason, never an exception. Several run as a pool,
// each decoding one photo at a time, so each holds at most one full-resolution buffer.
import './network-report';
import * as Comlink from 'comlink';
import { sha256Hex } from '../src/core/hub/download';
import { fitRect, rgbaToRgb } from '../src/core/images/pixels';
import { resizeRgb } from '../src/core/images/resample';
import { applyResizePlan, ResizePlanError, type ResizePlan } from '../src/core/images/resize-plan';
import { badShape, cannotRead, corrupt, emptyFile, tooLarge, zeroSized, type Unreadable } from '../src/core/images/reasons';
import { extensionNote, SNIFF_BYTES, type ImageFormat } from '../src/core/images/sniff';
import { endsEarly, ENDS_EARLY, triageImage } from '../src/core/images/triage';
import type { DecodeOptions, DecodeRequest, DecodeResult, ImageWorkerApi } from './image-api';
import { errorText } from '../src/core/runtime/error-text';

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

let fullCanvas: OffscreenCanvas | null = null;

/**
 * The bitmap's pixels as RGBA, not premultiplied. A 2D canvas stores premultiplied colour, which
 * loses the colour under transparent pixels (Pillow's convert('RGB') keeps it); so a photo with any
 * transparency is read again through a WebGL texture, which can keep it unpremultiplied.
 */
function readRgba(bitmap: ImageBitmap): Uint8Array | Uint8ClampedArray {
  const { width, height } = bitmap;
  fullCanvas ??= new OffscreenCanvas(1, 1);
  fullCanvas.width = width;
  fullCanvas.height = height;
  const ctx = fullCanvas.getContext('2d', { willReadFrequently: true, alpha: true });
  if (!ctx) throw new Error('This browser has no 2D OffscreenCanvas in workers.');
  ctx.clearRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  // Give the canvas memory back before the next photo.
  fullCanvas.width = 1;
  fullCanvas.height = 1;
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return readUnpremultiplied(bitmap) ?? rgba;
  return rgba;
}

function readUnpremultiplied(bitmap: ImageBitmap): Uint8Array | null {
  const { width, height } = bitmap;
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2', { alpha: true, premultipliedAlpha: false, antialias: false, depth: false, stencil: false });
  if (!gl) return null;
  try {
    if (Math.max(width, height) > (gl.getParameter(gl.MAX_TEXTURE_SIZE) as number)) return null;
    const texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, width, height, 0, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    const framebuffer = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) return null;
    const out = new Uint8Array(width * height * 4);
    gl.pixelStorei(gl.PACK_ALIGNMENT, 1);
    // Row 0 of the texture is the bitmap's top row, and readPixels returns it first.
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, out);
    gl.deleteFramebuffer(framebuffer);
    gl.deleteTexture(texture);
    return gl.getError() === gl.NO_ERROR ? out : null;
  } finally {
    gl.getExtension('WEBGL_lose_context')?.loseContext();
  }
}

/** The working pixels (and thumbnail) of a full-resolution bitmap through an encoder's resize plan. */
function planned(full: ImageBitmap, plan: ResizePlan, options: DecodeOptions): { pixels: Uint8Array; thumb: Uint8Array | null } {
  const pixels = applyResizePlan(readRgba(full), full.width, full.height, plan, 4);
  // The thumbnail only has to look right: an area average of what the encoder sees.
  const thumb = options.thumbSize !== null ? resizeRgb(pixels, plan.width, plan.height, options.thumbSize, options.thumbSize, 'box') : null;
  return { pixels, thumb };
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
    return { ...cannotRead(errorText(err)), bytes: bytesLength };
  }
  const triage = triageImage(bytes, options.maxSide);
  if (!triage.ok) return { kind: triage.kind, reason: triage.reason, bytes: bytesLength };
  const format: ImageFormat = triage.format;
  const sha256 = await sha256Hex(bytes);
  let full: ImageBitmap;
  try {
    // With a plan, colours stay as stored (Pillow applies no ICC profile); the browser path keeps its own.
    full = await createImageBitmap(req.file, { premultiplyAlpha: 'none', imageOrientation: 'from-image', ...(options.resize ? { colorSpaceConversion: 'none' as const } : {}) });
  } catch {
    return { ...corrupt(format, endsEarly(bytes, format) ? ENDS_EARLY : undefined), bytes: bytesLength };
  }
  try {
    const { width, height } = full;
    if (width === 0 || height === 0) return { ...zeroSized({ width, height }), bytes: bytesLength };
    if (Math.max(width, height) > options.maxSide) return { ...tooLarge({ width, height }, options.maxSide), bytes: bytesLength };
    let pixels: Uint8Array;
    let thumb: Uint8Array | null;
    if (options.resize) ({ pixels, thumb } = planned(full, options.resize, options));
    else {
      const rect = fitRect(width, height, options.fit);
      pixels = await toRgb(full, rect, options.size);
      thumb = options.thumbSize !== null ? await toRgb(full, rect, options.thumbSize) : null;
    }
    const name = req.path.split('/').pop() ?? req.path;
    return { ok: true, format, bytes: bytesLength, width, height, sha256, note: extensionNote(name, format), pixels, thumb };
  } catch (err) {
    if (err instanceof ResizePlanError) return { ...badShape(err.message), bytes: bytesLength };
    return { ...corrupt(format, errorText(err)), bytes: bytesLength };
  } finally {
    full.close();
  }
}

const api: ImageWorkerApi = {
  async decodeBatch(requests, options) {
    const plan = options.resize;
    if (plan && (plan.width !== options.size || plan.height !== options.size)) {
      // The caller's mistake, not the files': fail the batch rather than call every photo corrupt.
      throw new Error(`The encoder's preprocessing (${plan.description}) makes ${plan.width}×${plan.height} images, but the working resolution is ${options.size}×${options.size}.`);
    }
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
