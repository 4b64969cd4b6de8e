// Scan throughput with onnxruntime-node and onnxruntime-web's WASM backend.
import type { CliEncoder } from '../../src/cli/encoder';
import { type DecoderConfig, type DecoderWeights, Scorer } from '../../src/core/dede';
import { EncoderRunner } from '../../src/core/dede/encoder-runner';
import type { Runtime } from '../../src/core/runtime/session';
import { PIXELS } from './data';

export interface Throughput {
  readonly backend: string;
  readonly images: number;
  readonly scanPerSec: number;
  readonly decoderPerSec: number;
  readonly encoderPerSec: number;
}

export async function throughput(backend: string, rt: Runtime, encoder: CliEncoder, cfg: DecoderConfig, weights: DecoderWeights, images: Float32Array): Promise<Throughput> {
  const n = images.length / PIXELS;
  const runner = await EncoderRunner.create(rt, encoder.spec, 64);
  const scorer = await Scorer.create(rt, cfg, weights, { batch: 64 });
  try {
    const warm = images.subarray(0, 64 * PIXELS);
    await scorer.scoreBatch(warm, (await runner.embed(warm, 64)).data); // warm-up
    const t0 = performance.now();
    const e = await runner.embed(images, n);
    const t1 = performance.now();
    await scorer.scoreBatch(images, e.data);
    const t2 = performance.now();
    return { backend, images: n, scanPerSec: n / ((t2 - t0) / 1000), encoderPerSec: n / ((t1 - t0) / 1000), decoderPerSec: n / ((t2 - t1) / 1000) };
  } finally {
    await runner.dispose();
    await scorer.dispose();
  }
}
