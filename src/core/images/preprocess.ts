// How an encoder wants its pixels: size, resize plan, rescale and per-channel normalisation, read
// from a Hugging Face `preprocessor_config.json` (or given by flags). Every encoder uses its own
// statistics (CLIP's are not CIFAR's), so nothing here defaults silently without saying so.
import { exactResizePlan, ResizePlanError, resizePlanFromHf, type ResizePlan } from './resize-plan';

export interface Preprocessing {
  /** The model input size (the resize plan's output). */
  readonly height: number;
  readonly width: number;
  /**
   * How a photo of any shape becomes height×width (resize, resample filter, centre crop). Absent in
   * records saved before plans existed: read it with `resizePlanOf`.
   */
  readonly resize?: ResizePlan;
  /** Multiply uint8 values by this before normalising (HF `rescale_factor`, usually 1/255). */
  readonly rescale: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** Where these values came from, for the UI and reports. */
  readonly origin: string;
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export class PreprocessConfigError extends Error {
  override readonly name = 'PreprocessConfigError';
}

function triple(value: unknown, key: string): [number, number, number] | null {
  if (value === undefined || value === null) return null;
  const arr = typeof value === 'number' ? [value, value, value] : value;
  if (!Array.isArray(arr) || arr.length !== 3 || !arr.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new PreprocessConfigError(`preprocessor_config.json: "${key}" must be a number or three numbers, got ${JSON.stringify(value)}.`);
  }
  return [arr[0], arr[1], arr[2]];
}

/**
 * Reads an HF preprocessor config. `fallbackSize` is used when the config names no size (e.g. the
 * encoder's static input shape).
 */
export function preprocessingFromHf(config: unknown, fallbackSize: { height: number; width: number } | null): Preprocessing {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new PreprocessConfigError('preprocessor_config.json is not a JSON object.');
  }
  const c = config as Record<string, unknown>;
  const doNormalize = c['do_normalize'] !== false;
  const doRescale = c['do_rescale'] !== false;
  const rescaleFactor = typeof c['rescale_factor'] === 'number' ? c['rescale_factor'] : 1 / 255;
  let resize: ResizePlan;
  try {
    resize = resizePlanFromHf(c, fallbackSize);
  } catch (err) {
    if (err instanceof ResizePlanError) throw new PreprocessConfigError(err.message);
    throw err;
  }
  const mean = doNormalize ? triple(c['image_mean'], 'image_mean') ?? [...IMAGENET_MEAN] : [0, 0, 0];
  const std = doNormalize ? triple(c['image_std'], 'image_std') ?? [...IMAGENET_STD] : [1, 1, 1];
  if (std.some((s) => s === 0)) throw new PreprocessConfigError('preprocessor_config.json: image_std contains 0.');
  return {
    height: resize.height,
    width: resize.width,
    resize,
    rescale: doRescale ? rescaleFactor : 1,
    mean: [mean[0]!, mean[1]!, mean[2]!],
    std: [std[0]!, std[1]!, std[2]!],
    origin: ['preprocessor_config.json', ...resize.notes].join('; '),
  };
}

/**
 * The resize plan of a preprocessing: its own, or for records saved before plans existed, a plain
 * stretch to height×width (bilinear).
 */
export function resizePlanOf(p: Pick<Preprocessing, 'height' | 'width' | 'resize'>): ResizePlan {
  return p.resize ?? exactResizePlan({ height: p.height, width: p.width }, 'bilinear');
}

/** Normalises interleaved RGBA uint8 pixels (canvas ImageData) into planar CHW float32. */
export function normalizeRgba(rgba: Uint8ClampedArray | Uint8Array, p: Preprocessing, out = new Float32Array(3 * p.height * p.width)): Float32Array {
  return normalizeInterleaved(rgba, 4, p, out);
}

/** Normalises interleaved RGB uint8 pixels (decoders that drop alpha) into planar CHW float32. */
export function normalizeRgb(rgb: Uint8ClampedArray | Uint8Array, p: Preprocessing, out = new Float32Array(3 * p.height * p.width)): Float32Array {
  return normalizeInterleaved(rgb, 3, p, out);
}

function normalizeInterleaved(pixels: Uint8ClampedArray | Uint8Array, stride: number, p: Preprocessing, out: Float32Array): Float32Array {
  const plane = p.height * p.width;
  if (pixels.length !== plane * stride) throw new Error(`Expected ${plane * stride} bytes (${stride} per pixel) for ${p.width}×${p.height}, got ${pixels.length}.`);
  for (let c = 0; c < 3; c++) {
    const scale = p.rescale / p.std[c]!;
    const shift = p.mean[c]! / p.std[c]!;
    for (let i = 0; i < plane; i++) out[c * plane + i] = pixels[i * stride + c]! * scale - shift;
  }
  return out;
}
