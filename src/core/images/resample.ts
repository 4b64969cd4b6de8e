// Pillow's `Image.resize(size, resample)` (ImagingResample, 8 bits per channel) on interleaved RGB or
// RGBA uint8, written out so that the CLI and the browser resize photos exactly as the Hugging Face
// image processors do (they call Pillow). Separable: a horizontal pass over the rows the vertical
// pass needs, then a vertical pass; each output pixel is a weighted sum with the filter stretched by
// the downscale factor (antialiasing), with 22-bit fixed-point weights, rounding and clipping to
// uint8 after each pass. NEAREST is Pillow's affine scale (pixel centres, accumulated in doubles).
// Alpha, when the input has it, is ignored: the result is always RGB (Pillow's convert('RGB') first).

export type ResampleFilter = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

/** PIL.Image.Resampling codes, as `resample` in preprocessor_config.json. */
export const PIL_RESAMPLE: Readonly<Record<number, ResampleFilter>> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' };

interface Kernel {
  readonly support: number;
  readonly at: (x: number) => number;
}

// Pillow's hamming window multiplies by float constants; keep their float rounding.
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

const KERNELS: Readonly<Record<Exclude<ResampleFilter, 'nearest'>, Kernel>> = {
  box: { support: 0.5, at: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    at: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  hamming: {
    support: 1,
    at: (x) => {
      const a = Math.abs(x);
      if (a === 0) return 1;
      if (a >= 1) return 0;
      const px = a * Math.PI;
      return (Math.sin(px) / px) * (HAMMING_A + HAMMING_B * Math.cos(px));
    },
  },
  bicubic: {
    support: 2,
    at: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, at: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

/** Per output index: the first input index, how many inputs, and their fixed-point weights. */
interface Coefficients {
  readonly ksize: number;
  readonly bounds: Int32Array; // [xmin, count] per output
  readonly weights: Int32Array; // ksize per output
}

function coefficients(inSize: number, outSize: number, kernel: Kernel): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(1, scale);
  const support = kernel.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const count = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < count; x++) {
      const w = kernel.at((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < count; x++) {
      const w = ww !== 0 ? k[x]! / ww : k[x]!;
      // C's (int)(±0.5 + w · 2^22): round half away from zero.
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { ksize, bounds, weights };
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** One horizontal pass over rows [row0, row0 + rows) of `src` (stride `channels`), to RGB. */
function horizontal(src: Uint8Array | Uint8ClampedArray, srcWidth: number, channels: number, row0: number, rows: number, outWidth: number, c: Coefficients): Uint8Array {
  const out = new Uint8Array(rows * outWidth * 3);
  const { ksize, bounds, weights } = c;
  for (let y = 0; y < rows; y++) {
    const rowBase = (row0 + y) * srcWidth;
    let o = y * outWidth * 3;
    for (let xx = 0; xx < outWidth; xx++, o += 3) {
      const xmin = bounds[xx * 2]!;
      const count = bounds[xx * 2 + 1]!;
      const kBase = xx * ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = (rowBase + xmin) * channels;
      for (let x = 0; x < count; x++, p += channels) {
        const w = weights[kBase + x]!;
        s0 += src[p]! * w;
        s1 += src[p + 1]! * w;
        s2 += src[p + 2]! * w;
      }
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}

/** One vertical pass of RGB `src` (rows already shifted so that row 0 is the first one needed). */
function vertical(src: Uint8Array | Uint8ClampedArray, width: number, channels: number, rowShift: number, outHeight: number, c: Coefficients): Uint8Array {
  const out = new Uint8Array(outHeight * width * 3);
  const { ksize, bounds, weights } = c;
  const stride = width * channels;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2]! - rowShift;
    const count = bounds[yy * 2 + 1]!;
    const kBase = yy * ksize;
    let o = yy * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = ymin * stride + x * channels;
      for (let y = 0; y < count; y++, p += stride) {
        const w = weights[kBase + y]!;
        s0 += src[p]! * w;
        s1 += src[p + 1]! * w;
        s2 += src[p + 2]! * w;
      }
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}

/** Pillow's NEAREST resize (ImagingScaleAffine): source index = int(pixel centre × scale), accumulated. */
function nearest(src: Uint8Array | Uint8ClampedArray, width: number, height: number, channels: number, outWidth: number, outHeight: number): Uint8Array {
  const ax = width / outWidth;
  const ay = height / outHeight;
  const xin = new Int32Array(outWidth);
  let xo = ax * 0.5;
  for (let x = 0; x < outWidth; x++, xo += ax) xin[x] = Math.min(width - 1, Math.trunc(xo));
  const out = new Uint8Array(outWidth * outHeight * 3);
  let yo = ay * 0.5;
  for (let y = 0, o = 0; y < outHeight; y++, yo += ay) {
    const row = Math.min(height - 1, Math.trunc(yo)) * width;
    for (let x = 0; x < outWidth; x++, o += 3) {
      const p = (row + xin[x]!) * channels;
      out[o] = src[p]!;
      out[o + 1] = src[p + 1]!;
      out[o + 2] = src[p + 2]!;
    }
  }
  return out;
}

function toRgb(src: Uint8Array | Uint8ClampedArray, pixels: number, channels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0, p = 0; i < pixels; i++, p += channels) {
    out[i * 3] = src[p]!;
    out[i * 3 + 1] = src[p + 1]!;
    out[i * 3 + 2] = src[p + 2]!;
  }
  return out;
}

/**
 * Resizes interleaved RGB (channels 3) or RGBA (channels 4, alpha ignored) to outWidth×outHeight RGB,
 * bit for bit as Pillow 9–11's `Image.resize((outWidth, outHeight), resample, reducing_gap=None)` on
 * the RGB image (up to the last bit of sin/cos for hamming and lanczos weights).
 */
export function resizeRgb(
  src: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  filter: ResampleFilter,
  channels: 3 | 4 = 3,
): Uint8Array {
  if (!(width > 0 && height > 0 && outWidth > 0 && outHeight > 0) || [width, height, outWidth, outHeight].some((v) => !Number.isInteger(v))) {
    throw new Error(`resizeRgb: sizes must be positive integers, got ${width}×${height} → ${outWidth}×${outHeight}.`);
  }
  if (src.length < width * height * channels) throw new Error(`resizeRgb: ${width}×${height}×${channels} needs ${width * height * channels} bytes, got ${src.length}.`);
  if (filter === 'nearest') return outWidth === width && outHeight === height ? toRgb(src, width * height, channels) : nearest(src, width, height, channels, outWidth, outHeight);
  const kernel = KERNELS[filter];
  const needH = outWidth !== width;
  const needV = outHeight !== height;
  if (!needH && !needV) return toRgb(src, width * height, channels);
  const cv = needV ? coefficients(height, outHeight, kernel) : null;
  if (!needH) return vertical(src, width, channels, 0, outHeight, cv!);
  const ch = coefficients(width, outWidth, kernel);
  // Only the source rows the vertical pass reads go through the horizontal pass.
  const first = cv ? cv.bounds[0]! : 0;
  const last = cv ? cv.bounds[(outHeight - 1) * 2]! + cv.bounds[(outHeight - 1) * 2 + 1]! : height;
  const temp = horizontal(src, width, channels, first, last - first, outWidth, ch);
  return cv ? vertical(temp, outWidth, 3, first, outHeight, cv) : temp;
}

/**
 * transformers' `center_crop` on interleaved RGB: the window starts at ((h − ch) // 2, (w − cw) // 2)
 * (floor division, so negative when the crop is larger) and whatever falls outside the image is 0.
 */
export function centerCropRgb(src: Uint8Array, width: number, height: number, cropWidth: number, cropHeight: number): Uint8Array {
  const top = Math.floor((height - cropHeight) / 2);
  const left = Math.floor((width - cropWidth) / 2);
  const out = new Uint8Array(cropWidth * cropHeight * 3);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(cropWidth, width - left);
  if (x1 <= x0) return out;
  for (let y = 0; y < cropHeight; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= height) continue;
    out.set(src.subarray((sy * width + left + x0) * 3, (sy * width + left + x1) * 3), (y * cropWidth + x0) * 3);
  }
  return out;
}
