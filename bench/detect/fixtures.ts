// The fixtures' triggers (settings.ts lists which encoder gets which) applied to the bench's photos.
import { blendNoise, ctrlFrequency, readCtrlPerturbation, readNoisePattern, stampPatch } from '../../scripts/fixtures/triggers';
import type { RgbSet } from './data';
import { PIXELS } from './data';
import type { TriggerName } from './settings';

export type TriggerFn = (rgb: Uint8Array) => Uint8Array;

/** The three triggers as functions on one 32×32 RGB image (their patterns read from the repo). */
export async function loadTriggers(repoRoot = '.'): Promise<Record<TriggerName, TriggerFn>> {
  const noise = await readNoisePattern(repoRoot);
  const perturbation = readCtrlPerturbation(repoRoot);
  return { patch: stampPatch, 'blend-noise': (x) => blendNoise(x, noise), 'ctrl-frequency': (x) => ctrlFrequency(x, perturbation) };
}

/** A copy of `set` with `trigger` applied to every image's uint8 pixels (before normalisation). */
export function applyTrigger(set: RgbSet, trigger: TriggerFn): RgbSet {
  const rgb = new Uint8Array(set.rgb.length);
  for (let i = 0; i < set.files.length; i++) rgb.set(trigger(set.rgb.subarray(i * PIXELS, (i + 1) * PIXELS)), i * PIXELS);
  return { files: set.files, rgb };
}
