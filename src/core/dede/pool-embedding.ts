// An encoder output tensor pooled into one embedding per image (see EmbeddingPooling).
import type { EmbeddingPooling } from '../onnx/readout';

const NEEDS: Readonly<Record<EmbeddingPooling, string>> = {
  none: '[batch, D]',
  flatten: '[batch, D, 1, 1]',
  avgpool: '[batch, C, H, W]',
  cls: '[batch, tokens, D]',
  'patch-mean': '[batch, tokens, D] with at least 2 tokens',
};

function fits(dims: readonly number[], pooling: EmbeddingPooling): boolean {
  switch (pooling) {
    case 'none':
      return dims.length === 2;
    case 'flatten':
      return dims.length === 4 && dims[2] === 1 && dims[3] === 1;
    case 'avgpool':
      return dims.length === 4;
    case 'cls':
      return dims.length === 3 && dims[1]! >= 1;
    case 'patch-mean':
      return dims.length === 3 && dims[1]! >= 2;
  }
}

/**
 * `data` laid out as `dims` (row-major, batch first) → [N, D]. Means are summed in float64.
 * @throws Error naming the shape when the pooling does not fit it.
 */
export function poolEmbedding(data: Float32Array, dims: readonly number[], pooling: EmbeddingPooling, outputName = 'the output'): { dim: number; data: Float32Array } {
  const size = dims.reduce((a, b) => a * b, 1);
  if (!fits(dims, pooling) || size !== data.length) {
    throw new Error(`Encoder output ${outputName} came out shaped [${dims.join(', ')}]${size !== data.length ? ` with ${data.length} values` : ''}, but the chosen readout (${pooling}) needs ${NEEDS[pooling]}: choose another readout on the Encoder step (--output in the CLI).`);
  }
  const n = dims[0]!;
  if (pooling === 'none' || pooling === 'flatten') return { dim: dims[1]!, data };
  if (pooling === 'avgpool') {
    const [c, hw] = [dims[1]!, dims[2]! * dims[3]!];
    const out = new Float32Array(n * c);
    for (let row = 0; row < n * c; row++) {
      let sum = 0;
      const base = row * hw;
      for (let k = 0; k < hw; k++) sum += data[base + k]!;
      out[row] = sum / hw;
    }
    return { dim: c, data: out };
  }
  const [t, d] = [dims[1]!, dims[2]!];
  const out = new Float32Array(n * d);
  if (pooling === 'cls') {
    for (let i = 0; i < n; i++) out.set(data.subarray(i * t * d, i * t * d + d), i * d);
    return { dim: d, data: out };
  }
  const sums = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    for (let tok = 1; tok < t; tok++) {
      const base = (i * t + tok) * d;
      for (let j = 0; j < d; j++) sums[j]! += data[base + j]!;
    }
    for (let j = 0; j < d; j++) out[i * d + j] = sums[j]! / (t - 1);
  }
  return { dim: d, data: out };
}
