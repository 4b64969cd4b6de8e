// Deterministic parameter init from a seed, mirrored by scripts/reference/dede_torch.py: one
// mulberry32 stream consumed in decoderParamSpecs order (xavier: one draw per value, normal: two).

import { numElements } from '../onnx/graph';
import type { DecoderConfig } from './config';
import { decoderParamSpecs, type DecoderWeights, type ParamInit } from './params';
import { mulberry32, normals, type Rng } from './rng';

function fill(init: ParamInit, n: number, rng: Rng): Float32Array {
  switch (init.kind) {
    case 'zeros':
      return new Float32Array(n);
    case 'ones':
      return new Float32Array(n).fill(1);
    case 'normal':
      return normals(rng, n, init.std);
    case 'xavier': {
      // Glorot uniform, as MAE initialises every Linear (and the patch-embed conv viewed as one).
      const bound = Math.sqrt(6 / (init.fanIn + init.fanOut));
      return Float32Array.from({ length: n }, () => (2 * rng() - 1) * bound);
    }
  }
}

/** Fresh weights for every parameter of `cfg` (the patch branch included, whatever Tk is). */
export function initDecoderWeights(cfg: DecoderConfig, seed: number): Record<string, Float32Array> {
  const rng = mulberry32(seed);
  const out: Record<string, Float32Array> = {};
  for (const s of decoderParamSpecs(cfg)) out[s.name] = fill(s.init, numElements(s.shape), rng);
  return out;
}

/** Total parameter count (for UI and logs). */
export function countParams(weights: DecoderWeights): number {
  return Object.values(weights).reduce((n, w) => n + w.length, 0);
}
