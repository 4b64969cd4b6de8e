// The content score in the workflow (docs/ARCHITECTURE.md §5.3.1, §5.4): `dede calibrate` and the
// app's Calibrate step fit the clean scale of the three components and the threshold on the same
// clean images; a scan puts each image's components on that scale. The held-back images (the
// realised false-positive rate) are held back from both fits, so the rate they report is honest.
// Pure functions.
import { calibrate, type CalibrationMethod, realisedFpr, type SplitCalibration } from './calibrate';
import { type ContentComponent, type ContentComponents, type ContentScale, contentScore, contentZ, fitContentScale } from './content-score';
import { mulberry32, shuffleInPlace } from './rng';

/** decoderScore of every image on a clean scale. */
export function contentScores(components: readonly ContentComponents[], scale: ContentScale): Float64Array {
  return Float64Array.from(components, (c) => contentScore(c, scale));
}

/**
 * splitCalibration (calibrate.ts) for the content score: the same seeded split (the same images are
 * held back as there for the same seed and count), the scale and τ fitted on the rest; the
 * calibration's scoreKind carries the scale, so a scan needs nothing else.
 */
export function splitContentCalibration(components: readonly ContentComponents[], holdOutFraction: number, seed: number, method: CalibrationMethod): SplitCalibration {
  if (!(holdOutFraction > 0 && holdOutFraction < 1)) throw new Error(`calibration: hold-out fraction must be in (0, 1), got ${holdOutFraction}`);
  const n = components.length;
  const order = Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(order, mulberry32(seed));
  const held = Math.min(n - 2, Math.max(1, Math.round(n * holdOutFraction)));
  // The content scale and the threshold need 2 images each, and one is held back.
  if (held < 1) throw new Error(`calibration: need at least 3 clean images to fit the content scale and hold some out, got ${n}`);
  const fit = order.slice(held).map((i) => components[i]!);
  const scale = fitContentScale(fit);
  const calibration = calibrate(contentScores(fit, scale), method, { kind: 'content', scale });
  return { calibration, heldOut: realisedFpr(calibration, contentScores(order.slice(0, held).map((i) => components[i]!), scale)) };
}

/** Each component's robust z on the clean scale (flip two-sided), as reports list them. */
export type ContentZ = Readonly<Record<ContentComponent, number>>;

export function contentZs(components: readonly ContentComponents[], scale: ContentScale): ContentZ[] {
  return components.map((c) => contentZ(c, scale));
}
