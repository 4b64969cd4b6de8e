import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../onnx/builder';
import { serializeModel } from '../onnx/serialize';
import { createRuntime } from '../runtime/session';
import { clipVisionBytes, HF, resnetModelBytes, vitModelBytes, withIoType } from '../../testing/hf-encoders';
import type { EmbeddingReadout } from '../onnx/readout';
import { float16ToFloat32, float32ToFloat16 } from '../runtime/float16';
import { EncoderRunner } from './encoder-runner';
import { poolEmbedding } from './pool-embedding';

// A linear "encoder" with a fixed batch of 4: [4,3,2,2] → [4,5].
function fixedBatchEncoder(): { bytes: Uint8Array; w: Float32Array } {
  const b = new GraphBuilder('enc');
  const x = b.input('pixels', [4, 3, 2, 2]);
  const w = Float32Array.from({ length: 12 * 5 }, (_, i) => Math.sin(i));
  const y = b.matmul(b.reshape(x, [4, 12]), b.constant(w, [12, 5], 'float32'));
  b.output(y, 'emb');
  return { bytes: serializeModel(b.toModel({ paramsAs: 'initializer' })), w };
}

describe('EncoderRunner', () => {
  it('pads a fixed-batch encoder and returns exactly n embeddings', async () => {
    const { bytes, w } = fixedBatchEncoder();
    const runner = await EncoderRunner.create(createRuntime(ortNode, 'cpu'), { bytes, inputName: 'pixels', readout: { output: 'emb', pooling: 'none' }, height: 2, width: 2, fixedBatch: 4 });
    const n = 6;
    const images = Float32Array.from({ length: n * 12 }, (_, i) => Math.cos(i * 0.3));
    const { dim, data } = await runner.embed(images, n);
    expect(dim).toBe(5);
    expect(data).toHaveLength(n * 5);
    for (let r = 0; r < n; r++) for (let c = 0; c < 5; c++) {
      let s = 0;
      for (let k = 0; k < 12; k++) s += images[r * 12 + k]! * w[k * 5 + c]!;
      expect(data[r * 5 + c]).toBeCloseTo(s, 4);
    }
    await expect(runner.embed(images, 5)).rejects.toThrow(/Expected 5 images/);
    await runner.dispose();
  });
});

describe('EncoderRunner readouts on Hugging Face-shaped exports', () => {
  const runtime = createRuntime(ortNode, 'cpu');
  const n = 5;
  const images = (size: number) => Float32Array.from({ length: n * 3 * size * size }, (_, i) => Math.sin(i * 0.113) * 1.7);

  /** The raw output of a plain session (dynamic batch), outside the runner. */
  async function rawOutput(bytes: Uint8Array, name: string, x: Float32Array, size: number) {
    const session = await ortNode.InferenceSession.create(bytes);
    const out = (await session.run({ pixel_values: new ortNode.Tensor('float32', x, [n, 3, size, size]) }))[name]!;
    await session.release();
    return { dims: out.dims, data: out.data as Float32Array };
  }

  async function embed(bytes: Uint8Array, readout: EmbeddingReadout, size: number, x: Float32Array, fixedBatch: number | null = null) {
    const runner = await EncoderRunner.create(runtime, { bytes, inputName: 'pixel_values', readout, height: size, width: size, fixedBatch }, 2);
    try {
      return await runner.embed(x, n);
    } finally {
      await runner.dispose();
    }
  }

  it('CLS token and patch-token mean of last_hidden_state equal a hand pooling of the raw output', async () => {
    const x = images(HF.size);
    const raw = await rawOutput(vitModelBytes(), 'last_hidden_state', x, HF.size);
    const [T, D] = [raw.dims[1]!, raw.dims[2]!];
    expect([T, D]).toEqual([HF.tokens, HF.hidden]);
    const cls = await embed(vitModelBytes(), { output: 'last_hidden_state', pooling: 'cls' }, HF.size, x);
    const mean = await embed(vitModelBytes(), { output: 'last_hidden_state', pooling: 'patch-mean' }, HF.size, x);
    expect([cls.dim, mean.dim]).toEqual([D, D]);
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < D; d++) {
        expect(cls.data[i * D + d]).toBe(raw.data[i * T * D + d]);
        let s = 0;
        for (let t = 1; t < T; t++) s += raw.data[(i * T + t) * D + d]!;
        expect(mean.data[i * D + d]).toBeCloseTo(s / (T - 1), 6);
      }
    }
  });

  it("ResNet's feature map average-pooled equals its pooler_output flattened (and the raw map's mean)", async () => {
    const x = images(HF.resnetSize);
    const raw = await rawOutput(resnetModelBytes(), 'last_hidden_state', x, HF.resnetSize);
    const pooled = await embed(resnetModelBytes(), { output: 'last_hidden_state', pooling: 'avgpool' }, HF.resnetSize, x, 4);
    const flat = await embed(resnetModelBytes(), { output: 'pooler_output', pooling: 'flatten' }, HF.resnetSize, x);
    const [C, HW] = [HF.channels, HF.grid * HF.grid];
    expect(pooled.dim).toBe(C);
    expect(flat.dim).toBe(C);
    for (let k = 0; k < n * C; k++) {
      let s = 0;
      for (let j = 0; j < HW; j++) s += raw.data[k * HW + j]!;
      expect(pooled.data[k]).toBeCloseTo(s / HW, 5);
      expect(flat.data[k]).toBeCloseTo(s / HW, 5);
    }
  });

  it('reads only the chosen output: a CLIP export gives its image_embeds as they are', async () => {
    const x = images(HF.size);
    const raw = await rawOutput(clipVisionBytes(), 'image_embeds', x, HF.size);
    const e = await embed(clipVisionBytes(), { output: 'image_embeds', pooling: 'none' }, HF.size, x);
    expect(e.dim).toBe(HF.projection);
    expect(e.data).toEqual(raw.data);
    await expect(embed(clipVisionBytes(), { output: 'text_embeds', pooling: 'none' }, HF.size, x)).rejects.toThrow(
      'The encoder has no output named text_embeds (it has image_embeds, last_hidden_state); choose its embedding output again.',
    );
    await expect(embed(clipVisionBytes(), { output: 'image_embeds', pooling: 'cls' }, HF.size, x)).rejects.toThrow(/came out shaped \[2, 12\], but the chosen readout \(cls\) needs \[batch, tokens, D\]/);
  });

  it('runs a float16 export: the same numbers as the float32 model at float16 precision', async () => {
    const x = images(HF.size);
    const readouts: EmbeddingReadout[] = [
      { output: 'last_hidden_state', pooling: 'cls' },
      { output: 'last_hidden_state', pooling: 'patch-mean' },
      { output: 'pooler_output', pooling: 'none' },
    ];
    for (const readout of readouts) {
      const half = await embed(withIoType(vitModelBytes(), 'float16'), readout, HF.size, x);
      // Exactly: the float32 model fed float16-rounded pixels, its raw output rounded to float16, then pooled.
      const raw = await rawOutput(vitModelBytes(), readout.output, float16ToFloat32(float32ToFloat16(x)), HF.size);
      const expected = poolEmbedding(float16ToFloat32(float32ToFloat16(raw.data)), raw.dims, readout.pooling);
      expect(half.dim).toBe(expected.dim);
      expect(half.data).toEqual(expected.data);
      // And close to the float32 model on the unrounded pixels: float16 keeps 11 significant bits.
      const full = await embed(vitModelBytes(), readout, HF.size, x);
      let worst = 0;
      for (let k = 0; k < full.data.length; k++) worst = Math.max(worst, Math.abs(half.data[k]! - full.data[k]!) / Math.max(1, Math.abs(full.data[k]!)));
      expect(worst).toBeLessThan(2 ** -8);
      expect(worst).toBeGreaterThan(0);
    }
  });
});
