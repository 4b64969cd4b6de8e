import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../../testing/tiny-encoder';
import { defineDecoderConfig } from '../dede/config';
import { exportDecoder } from '../dede/decoder-file';
import { initDecoderWeights } from '../dede/init';
import { Scorer } from '../dede/scorer';
import { ContentScorer } from '../dede/content-scorer';
import { contentZ, fitContentScale } from '../dede/content-score';
import { encoderSource } from '../dede/encoder-runner';
import { preprocessingFromHf } from '../images/preprocess';
import { CancelledError } from '../runtime/cancel';
import { createRuntime } from '../runtime/session';
import { atSize, decoderInputs, ensureEmbeddings, normalizedRange, type PixelSource } from './embeddings';
import type { Model } from '../onnx/graph';
import { parseModel } from '../onnx/parse';
import { serializeModel } from '../onnx/serialize';
import { MemoryFileStore } from './files';
import { explainImages, scoreImages, type ScoringProgress } from './scoring';

const runtime = createRuntime(ortNode, 'cpu');
const preprocessing = preprocessingFromHf(JSON.parse(new TextDecoder().decode(PREPROCESSOR_CONFIG)), null);
const encoder = encoderSource({ bytes: tinyEncoderBytes(), inputName: 'pixel_values', readout: { output: 'embedding', pooling: 'none' }, height: 32, width: 32, fixedBatch: null }, 'f'.repeat(64));
const cfg = defineDecoderConfig({ imageSize: 32, patchSize: 4, embedDim: 128, encDim: 32, encDepth: 1, encHeads: 2, decDim: 32, decDepth: 1, decHeads: 2 });
const weights = initDecoderWeights(cfg, 9);
const source: PixelSource = {
  id: 'ds', count: 150, width: 32, height: 32,
  async readRgb(from, n) {
    return Uint8Array.from({ length: n * 3072 }, (_, i) => ((from * 3072 + i) * 7919) % 251);
  },
};

describe('workflow scoring', () => {
  it('streams chunks and matches the Scorer run directly', async () => {
    const files = new MemoryFileStore();
    await files.write('runs/x/decoder.onnx', exportDecoder(cfg, weights, { training: { maskRatio: 0.9 } }));
    const slots = [3, 4, 5, 70, 71, 149, ...Array.from({ length: 70 }, (_, i) => 75 + i)];
    const chunks: number[] = [];
    const result = await scoreImages(runtime, files, { encoder, source, slots, preprocessing, decoderPath: 'runs/x/decoder.onnx', scorer: {}, contentScale: null }, {
      onProgress: (p: ScoringProgress) => p.phase === 'score' && chunks.push(p.chunk.slots.length),
    });
    expect(chunks).toEqual([64, 12]);
    expect(result.slots).toEqual(slots);
    expect(result.decoderSha256).toMatch(/^[0-9a-f]{64}$/);

    const emb = await ensureEmbeddings(runtime, files, encoder, source, preprocessing);
    const scorer = await Scorer.create(runtime, cfg, weights, {});
    const images = new Float32Array(slots.length * 3072);
    const e = new Float32Array(slots.length * 128);
    for (let k = 0; k < slots.length; k++) {
      images.set(await normalizedRange(source, slots[k]!, 1, preprocessing), k * 3072);
      e.set(emb.data.subarray(slots[k]! * 128, (slots[k]! + 1) * 128), k * 128);
    }
    const direct = await scorer.scoreBatch(images, e);
    direct.forEach((d, k) => {
      expect(result.scores[k]).toBeCloseTo(d.score, 6);
      expect(result.dedeScores[k]).toBeCloseTo(d.dedeScore, 3);
    });
    await scorer.dispose();

    // The content score (docs/ARCHITECTURE.md §5.3.1): the components of a direct ContentScorer run,
    // and with a scale (as a scan after calibration) decoderScore = the mean of their z's on it.
    const content = await ContentScorer.create(runtime, cfg, weights, { bytes: tinyEncoderBytes(), ...encoder.spec }, {});
    const images32 = new Float32Array(slots.length * 3072);
    for (let k = 0; k < slots.length; k++) images32.set(await normalizedRange(source, slots[k]!, 1, preprocessing), k * 3072);
    const directContent = await content.scoreBatch({ decoderImages: images, encoderImages: images32, embeddings: e });
    await content.dispose();
    directContent.forEach((d, k) => {
      expect(result.components[k]!.semantic).toBeCloseTo(d.components.semantic, 5);
      expect(result.components[k]!.lowPass).toBeCloseTo(d.components.lowPass, 6);
      expect(result.components[k]!.flip).toBeCloseTo(d.components.flip, 5);
    });
    const scale = fitContentScale(result.components.slice(0, 40));
    const scaled = await scoreImages(runtime, files, { encoder, source, slots, preprocessing, decoderPath: 'runs/x/decoder.onnx', scorer: {}, contentScale: scale });
    scaled.scores.forEach((s, k) => {
      const z = contentZ(result.components[k]!, scale);
      const w = scale.weights!;
      expect(s).toBeCloseTo(w.semantic * z.semantic + w.lowPass * z.lowPass + w.flip * z.flip, 6);
    });

    const [explained] = await explainImages(runtime, files, { encoder, source, slots: [70], preprocessing, decoderPath: 'runs/x/decoder.onnx' });
    expect(explained!.reconstruction).toHaveLength(3072);
    // The error map is (reconstruction − input)², and its masked sum is the image's dedeScore.
    let sum = 0;
    explained!.pixelError.forEach((v, i) => {
      expect(v).toBeCloseTo((explained!.reconstruction[i]! - explained!.input[i]!) ** 2, 4);
      sum += v;
    });
    expect(sum).toBeCloseTo(result.dedeScores[3]!, 1);
  });

  it('scores the images of a 64-px encoder with a 32-px decoder as if it had been fed the 32-px images', async () => {
    // The 64-px encoder area-averages 2×2 blocks, then is the tiny 32-px encoder; its images are the
    // 32-px ones upsampled 2× by repetition. So embeddings and decoder inputs must come out the same.
    const tiny = parseModel(tinyEncoderBytes());
    const big: Model = {
      ...tiny,
      graph: {
        ...tiny.graph,
        inputs: [{ name: 'pixel_values', dtype: 'float32', shape: [-1, 3, 64, 64] }],
        nodes: [
          { op: 'AveragePool', inputs: ['pixel_values'], outputs: ['small'], attrs: { kernel_shape: { kind: 'ints', value: [2, 2] }, strides: { kind: 'ints', value: [2, 2] } } },
          ...tiny.graph.nodes.map((n) => ({ ...n, inputs: n.inputs.map((i) => (i === 'pixel_values' ? 'small' : i)) })),
        ],
      },
    };
    const bigEncoder = encoderSource({ ...encoder.spec, bytes: serializeModel(big), height: 64, width: 64 }, 'e'.repeat(64));
    const bigSource: PixelSource = {
      id: 'ds64', count: source.count, width: 64, height: 64,
      async readRgb(from, n) {
        const small = await source.readRgb(from, n);
        const out = new Uint8Array(n * 64 * 64 * 3);
        for (let k = 0; k < n; k++)
          for (let y = 0; y < 64; y++)
            for (let x = 0; x < 64; x++)
              for (let c = 0; c < 3; c++) out[((k * 64 + y) * 64 + x) * 3 + c] = small[((k * 32 + (y >> 1)) * 32 + (x >> 1)) * 3 + c]!;
        return out;
      },
    };
    const files = new MemoryFileStore();
    await files.write('runs/x/decoder.onnx', exportDecoder(cfg, weights, { training: { maskRatio: 0.9 } }));
    const slots = [0, 1, 2, 40, 41, 99];
    const at32 = await scoreImages(runtime, files, { encoder, source, slots, preprocessing, decoderPath: 'runs/x/decoder.onnx', scorer: {}, contentScale: null });
    const at64 = await scoreImages(runtime, files, { encoder: bigEncoder, source: bigSource, slots, preprocessing: atSize(preprocessing, 64), decoderPath: 'runs/x/decoder.onnx', scorer: {}, contentScale: null });
    at64.scores.forEach((s, k) => expect(s).toBeCloseTo(at32.scores[k]!, 5));
    at64.dedeScores.forEach((s, k) => expect(s).toBeCloseTo(at32.dedeScores[k]!, 3));
    const [explained] = await explainImages(runtime, files, { encoder: bigEncoder, source: bigSource, slots: [40], preprocessing: atSize(preprocessing, 64), decoderPath: 'runs/x/decoder.onnx' });
    expect(explained!.input).toEqual(await decoderInputs(source, [40], preprocessing, 32));
  });

  it('says when the decoder is missing', async () => {
    await expect(scoreImages(runtime, new MemoryFileStore(), { encoder, source, slots: null, preprocessing, decoderPath: 'nope', scorer: {}, contentScale: null })).rejects.toThrow(/no longer in browser storage/);
  });
});

describe('cancelled workflow jobs', () => {
  const decoderPath = 'runs/x/decoder.onnx';
  async function filesWithDecoder(): Promise<MemoryFileStore> {
    const files = new MemoryFileStore();
    await files.write(decoderPath, exportDecoder(cfg, weights, { training: { maskRatio: 0.9 } }));
    return files;
  }

  it('ensureEmbeddings stops between chunks with a CancelledError and caches nothing', async () => {
    const files = await filesWithDecoder();
    const controller = new AbortController();
    const done: number[] = [];
    const job = ensureEmbeddings(runtime, files, encoder, source, preprocessing, {
      signal: controller.signal,
      chunk: 16,
      onProgress: (p) => {
        done.push(p.done);
        if (p.done === 32) controller.abort();
      },
    });
    await expect(job).rejects.toBeInstanceOf(CancelledError);
    expect(done).toEqual([16, 32]);
    // A later run embeds from scratch (nothing partial was kept as if complete).
    const full = await ensureEmbeddings(runtime, files, encoder, source, preprocessing, { chunk: 64 });
    expect(full.count).toBe(150);
  });

  it('scoreImages and explainImages reject with a CancelledError on an aborted signal', async () => {
    const files = await filesWithDecoder();
    const controller = new AbortController();
    controller.abort();
    const request = { encoder, source, slots: [1, 2, 3], preprocessing, decoderPath };
    await expect(scoreImages(runtime, files, { ...request, scorer: {}, contentScale: null }, { signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
    await expect(explainImages(runtime, files, request, controller.signal)).rejects.toBeInstanceOf(CancelledError);
  });
});
