// How a Hugging Face image processor turns a photo of any shape into the model's input: which resize
// (exact size, shortest edge, longest edge), which resampling filter, which centre crop. Read from
// preprocessor_config.json with transformers' own arithmetic (get_resize_output_image_size truncates
// the long edge, center_crop starts at (h − ch) // 2 and pads with zeros), and applied by one function,
// `applyResizePlan`, that the CLI and the browser worker both call, so the two cannot drift.
import { areaResizeRgb } from './area-resize';
import { centerCropRgb, PIL_RESAMPLE, resizeRgb, type ResampleFilter } from './resample';

export type { ResampleFilter } from './resample';

export type ResizeRule =
  /** Every photo to exactly height×width (ViT, SigLIP; a size given by flags). */
  | { readonly kind: 'exact'; readonly height: number; readonly width: number }
  /** The short edge to shortestEdge, the long edge int(shortestEdge · long / short), capped by longestEdge. */
  | { readonly kind: 'shortest-edge'; readonly shortestEdge: number; readonly longestEdge: number | null }
  /** The long edge to longestEdge, the short edge scaled and rounded (SAM-style). */
  | { readonly kind: 'longest-edge'; readonly longestEdge: number }
  /** do_resize false: the photo keeps its size (a crop then makes it fixed). */
  | { readonly kind: 'none' };

export interface ImageSize {
  readonly height: number;
  readonly width: number;
}

export interface ResizePlan {
  readonly resize: ResizeRule;
  readonly resample: ResampleFilter;
  /** transformers' center_crop to this size after the resize, or none. */
  readonly crop: ImageSize | null;
  /**
   * After the crop, an area-average (Pillow BOX) resize to a smaller size: the decoder's view of what
   * the encoder saw. Null for the encoder itself.
   */
  readonly downsample: ImageSize | null;
  /** The output size: downsample, else crop, else the exact resize. Always fixed. */
  readonly height: number;
  readonly width: number;
  /** HF do_convert_rgb; photos always become 8-bit RGB here (the model takes 3 channels). */
  readonly convertRgb: boolean;
  /** For the UI and reports, e.g. "resize short edge to 256 (bicubic), centre crop 224×224". */
  readonly description: string;
  /** What was assumed because the config did not say (resample default, a crop added to fix the size). */
  readonly notes: readonly string[];
}

export class ResizePlanError extends Error {
  override readonly name = 'ResizePlanError';
}

/** Processor types whose bare int `size` means the shortest edge (transformers' get_size_dict(size, default_to_square=False)). */
const SHORTEST_EDGE_INT = /^(CLIP|ChineseCLIP|ConvNext|Bit)(ImageProcessor|FeatureExtractor)/;
/** Class defaults for `resample` when the config leaves it out. */
const RESAMPLE_DEFAULT: readonly [RegExp, ResampleFilter][] = [
  [/^(ViT|Dinov2?)(ImageProcessor|FeatureExtractor)/, 'bilinear'],
  [/^(CLIP|ChineseCLIP|ConvNext|Bit|Siglip|Deit|Beit)(ImageProcessor|FeatureExtractor)/, 'bicubic'],
];

function positiveInt(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

type SizeDict = { height: number; width: number } | { shortestEdge: number; longestEdge: number | null } | { longestEdge: number };

function sizeDict(value: unknown, intIsShortestEdge: boolean, key: string): SizeDict | null {
  if (value === undefined || value === null) return null;
  const n = positiveInt(value);
  if (n) return intIsShortestEdge ? { shortestEdge: n, longestEdge: null } : { height: n, width: n };
  if (Array.isArray(value) && value.length === 2 && positiveInt(value[0]) && positiveInt(value[1])) return { height: value[0] as number, width: value[1] as number };
  if (typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const h = positiveInt(o['height']);
    const w = positiveInt(o['width']);
    if (h && w) return { height: h, width: w };
    const se = positiveInt(o['shortest_edge']);
    const le = positiveInt(o['longest_edge']);
    if (se) {
      if (le !== null && le <= se) throw new ResizePlanError(`preprocessor_config.json: "${key}" has longest_edge ${le} not larger than shortest_edge ${se}.`);
      return { shortestEdge: se, longestEdge: le };
    }
    if (le) return { longestEdge: le };
  }
  throw new ResizePlanError(`preprocessor_config.json: "${key}" must be an int, {height, width}, {shortest_edge} or {longest_edge}, got ${JSON.stringify(value)}.`);
}

function squareOf(d: SizeDict): ImageSize {
  if ('height' in d) return d;
  if ('shortestEdge' in d) return { height: d.shortestEdge, width: d.shortestEdge };
  return { height: d.longestEdge, width: d.longestEdge };
}

const sizeText = (s: ImageSize): string => (s.height === s.width ? `${s.width}` : `${s.width}×${s.height}`);

const downsampleText = (s: ImageSize): string => `, then area-average to ${s.width}×${s.height}`;
const DOWNSAMPLE_TEXT = /, then area-average to \d+×\d+$/;

function describe(resize: ResizeRule, resample: ResampleFilter, crop: ImageSize | null, downsample: ImageSize | null, prefix: string): string {
  const parts: string[] = [];
  switch (resize.kind) {
    case 'exact':
      parts.push(`resize to ${resize.width}×${resize.height} (${resample})`);
      break;
    case 'shortest-edge':
      parts.push(`resize short edge to ${resize.shortestEdge}${resize.longestEdge !== null ? ` (long edge at most ${resize.longestEdge})` : ''} (${resample})`);
      break;
    case 'longest-edge':
      parts.push(`resize long edge to ${resize.longestEdge} (${resample})`);
      break;
    case 'none':
      parts.push('no resize');
      break;
  }
  if (crop) parts.push(`centre crop ${crop.width}×${crop.height}`);
  return prefix + parts.join(', ') + (downsample ? downsampleText(downsample) : '');
}

function finish(resize: ResizeRule, resample: ResampleFilter, crop: ImageSize | null, convertRgb: boolean, notes: readonly string[], prefix = ''): ResizePlan {
  const out = crop ?? (resize.kind === 'exact' ? { height: resize.height, width: resize.width } : null);
  if (!out) throw new ResizePlanError('A resize plan needs a fixed output size: an exact size or a centre crop.');
  return { resize, resample, crop, downsample: null, height: out.height, width: out.width, convertRgb, description: describe(resize, resample, crop, null, prefix), notes };
}

/** Every photo stretched to exactly height×width: the plan for a size given by hand. */
export function exactResizePlan(size: ImageSize, resample: ResampleFilter): ResizePlan {
  return finish({ kind: 'exact', height: size.height, width: size.width }, resample, null, true, []);
}

/**
 * Reads the resize part of a Hugging Face preprocessor config. `fallbackSize` (the model's fixed
 * input, when it has one) is used when the config names no size. Throws ResizePlanError with the
 * key named when the config is malformed.
 */
export function resizePlanFromHf(config: Record<string, unknown>, fallbackSize: ImageSize | null): ResizePlan {
  const type = String(config['image_processor_type'] ?? config['feature_extractor_type'] ?? '');
  const notes: string[] = [];
  const code = config['resample'];
  let resample: ResampleFilter;
  if (code === undefined || code === null) {
    const byType = RESAMPLE_DEFAULT.find(([re]) => re.test(type));
    resample = byType ? byType[1] : 'bilinear';
    notes.push(byType ? `resample not given: ${resample}, the ${type} default` : `resample not given and the processor type ${type ? `${type} is unknown` : 'is not named'}: bilinear assumed`);
  } else {
    const filter = typeof code === 'number' ? PIL_RESAMPLE[code] : undefined;
    if (!filter) throw new ResizePlanError(`preprocessor_config.json: "resample" must be a PIL code 0–5, got ${JSON.stringify(code)}.`);
    resample = filter;
  }
  const convertRgb = config['do_convert_rgb'] !== false;
  const doResize = config['do_resize'] !== false;
  const size = sizeDict(config['size'], SHORTEST_EDGE_INT.test(type), 'size');
  const cropPct = config['crop_pct'];

  // ConvNextImageProcessor: below 384 px, the short edge to int(shortest_edge / crop_pct), then a
  // shortest_edge square from the centre; at 384 and above, a warp to the square.
  if (doResize && typeof cropPct === 'number' && size && 'shortestEdge' in size) {
    if (!(cropPct > 0 && cropPct <= 1)) throw new ResizePlanError(`preprocessor_config.json: "crop_pct" must be in (0, 1], got ${cropPct}.`);
    const se = size.shortestEdge;
    if (se >= 384) return finish({ kind: 'exact', height: se, width: se }, resample, null, convertRgb, notes, `crop_pct ${cropPct} at ${se} px: `);
    return finish({ kind: 'shortest-edge', shortestEdge: Math.trunc(se / cropPct), longestEdge: null }, resample, { height: se, width: se }, convertRgb, notes, `crop_pct ${cropPct}: `);
  }

  const cropDict = config['do_center_crop'] !== false ? sizeDict(config['crop_size'], false, 'crop_size') : null;
  let crop = cropDict ? squareOf(cropDict) : null;
  let resize: ResizeRule;
  if (!doResize) resize = { kind: 'none' };
  else if (!size) {
    if (!crop && !fallbackSize) throw new ResizePlanError('preprocessor_config.json names no image size and the model input has no fixed size: set the size by hand.');
    resize = crop ? { kind: 'none' } : { kind: 'exact', ...fallbackSize! };
    if (!crop) notes.push(`no size in the config: resized to the model's ${fallbackSize!.width}×${fallbackSize!.height}`);
  } else if ('height' in size) resize = { kind: 'exact', height: size.height, width: size.width };
  else if ('shortestEdge' in size) resize = { kind: 'shortest-edge', shortestEdge: size.shortestEdge, longestEdge: size.longestEdge };
  else resize = { kind: 'longest-edge', longestEdge: size.longestEdge };

  if (!crop && resize.kind !== 'exact') {
    // The model takes one size; HF would hand it photos of different shapes here.
    if (resize.kind === 'none') {
      if (!fallbackSize) throw new ResizePlanError('preprocessor_config.json turns resizing off and crops nothing, and the model input has no fixed size: set the size by hand.');
      resize = { kind: 'exact', ...fallbackSize };
      notes.push(`do_resize is false but the model takes one size: resized to ${fallbackSize.width}×${fallbackSize.height}`);
    } else {
      crop = squareOf(size!);
      notes.push(`no centre crop in the config: a ${sizeText(crop)} centre crop (zero-padded when smaller) keeps one size`);
    }
  }
  return finish(resize, resample, crop, convertRgb, notes);
}

/** The plan's steps for one photo: the resize target (null: none) and the crop window (may stick out: zero padding). */
export interface ResizeSteps {
  readonly resize: ImageSize | null;
  readonly crop: { readonly top: number; readonly left: number; readonly height: number; readonly width: number } | null;
}

/** transformers' get_resize_output_image_size(size, default_to_square=False, max_size) on (height, width). */
export function shortestEdgeSize(height: number, width: number, shortestEdge: number, longestEdge: number | null): ImageSize {
  const [short, long] = width <= height ? [width, height] : [height, width];
  let newShort = shortestEdge;
  let newLong = Math.trunc((shortestEdge * long) / short);
  if (longestEdge !== null && newLong > longestEdge) {
    newShort = Math.trunc((longestEdge * newShort) / newLong);
    newLong = longestEdge;
  }
  return width <= height ? { height: newLong, width: newShort } : { height: newShort, width: newLong };
}

/** SamImageProcessor's _get_preprocess_shape: the long edge to longestEdge, each side rounded half up. */
export function longestEdgeSize(height: number, width: number, longestEdge: number): ImageSize {
  const scale = (longestEdge * 1.0) / Math.max(height, width);
  return { height: Math.trunc(height * scale + 0.5), width: Math.trunc(width * scale + 0.5) };
}

/** The largest intermediate image a plan may make (the size of the largest photo accepted, 8192²). */
export const MAX_RESIZED_PIXELS = 8192 * 8192;

export function resizeSteps(plan: ResizePlan, width: number, height: number): ResizeSteps {
  const r = plan.resize;
  const resize =
    r.kind === 'exact' ? { height: r.height, width: r.width }
    : r.kind === 'shortest-edge' ? shortestEdgeSize(height, width, r.shortestEdge, r.longestEdge)
    : r.kind === 'longest-edge' ? longestEdgeSize(height, width, r.longestEdge)
    : null;
  const h = resize?.height ?? height;
  const w = resize?.width ?? width;
  if (h < 1 || w < 1) throw new ResizePlanError(`A ${width}×${height} photo would resize to ${w}×${h}: it is too thin for ${plan.description}.`);
  // A sliver of a photo scaled up by its short edge: refuse rather than allocate gigabytes.
  if (h * w > MAX_RESIZED_PIXELS) throw new ResizePlanError(`A ${width}×${height} photo would resize to ${w}×${h}: it is too thin for ${plan.description}.`);
  const crop = plan.crop ? { top: Math.floor((h - plan.crop.height) / 2), left: Math.floor((w - plan.crop.width) / 2), height: plan.crop.height, width: plan.crop.width } : null;
  return { resize, crop };
}

/**
 * The same plan producing `size` instead of its own output: for the decoder, which learns smaller
 * than the encoder sees. A plain stretch is redone at the new size; a crop plan is followed by an
 * area-average (BOX) down to it, so the decoder sees the encoder's framing.
 */
export function planAtSize(plan: ResizePlan, size: ImageSize): ResizePlan {
  if (plan.height === size.height && plan.width === size.width) return plan;
  const own = plan.crop ?? (plan.resize.kind === 'exact' ? plan.resize : null);
  if (!own) throw new Error('planAtSize: the plan has no fixed size.');
  if (plan.resize.kind === 'exact' && !plan.crop) return { ...exactResizePlan(size, plan.resample), convertRgb: plan.convertRgb, notes: plan.notes };
  const downsample = own.height === size.height && own.width === size.width ? null : size;
  const base = plan.description.replace(DOWNSAMPLE_TEXT, '');
  return { ...plan, downsample, height: size.height, width: size.width, description: downsample ? `${base}${downsampleText(downsample)}` : base };
}

/**
 * Applies a plan to one decoded photo (interleaved RGB, or RGBA with alpha ignored) and returns RGB
 * at plan.width × plan.height. The single implementation behind the CLI and the browser worker.
 */
export function applyResizePlan(pixels: Uint8Array | Uint8ClampedArray, width: number, height: number, plan: ResizePlan, channels: 3 | 4 = 3): Uint8Array {
  const steps = resizeSteps(plan, width, height);
  let rgb: Uint8Array;
  let w = width;
  let h = height;
  if (steps.resize) {
    rgb = resizeRgb(pixels, width, height, steps.resize.width, steps.resize.height, plan.resample, channels);
    w = steps.resize.width;
    h = steps.resize.height;
  } else {
    rgb = resizeRgb(pixels, width, height, width, height, 'nearest', channels); // a plain RGB copy
  }
  if (plan.crop) {
    rgb = centerCropRgb(rgb, w, h, plan.crop.width, plan.crop.height);
    w = plan.crop.width;
    h = plan.crop.height;
  }
  if (plan.downsample) {
    rgb = areaResizeRgb(rgb, w, h, plan.downsample.width, plan.downsample.height);
    w = plan.downsample.width;
    h = plan.downsample.height;
  }
  if (w !== plan.width || h !== plan.height) throw new Error(`applyResizePlan: produced ${w}×${h}, the plan says ${plan.width}×${plan.height}.`);
  return rgb;
}
