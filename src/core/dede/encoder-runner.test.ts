import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../onnx/builder';
import { serializeModel } from '../onnx/serialize';
import { createRuntime } from '../runtime/session';
import { EncoderRunner } from './encoder-runner';

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
