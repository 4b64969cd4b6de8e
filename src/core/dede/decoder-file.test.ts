import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { FIXTURE_CFG } from '../../testing/train-fixture';
import type { Initializer, Model } from '../onnx/graph';
import { evaluate } from '../onnx/interpret';
import { parseModel } from '../onnx/parse';
import { serializeModel } from '../onnx/serialize';
import { decoderParamSpecs } from './params';
import { DECODER_META_KEYS, DecoderFileError, exportDecoder, importDecoder, trainingInfoFrom, type DecoderMeta } from './decoder-file';
import { initDecoderWeights } from './init';
import { mulberry32, normals } from './rng';
import { buildScorerModel } from './scorer';
import { DEFAULT_TRAINING } from './train-loop';

const cfg = FIXTURE_CFG;
const weights = initDecoderWeights(cfg, 21);
const meta: DecoderMeta = {
  training: { maskRatio: 0.9, batchSize: 64, lr: 1e-3, weightDecay: 1e-6, seed: 0, steps: 300, epochs: 10, finalLoss: 0.41, trainImages: 2000, dataset: 'stl10-sample' },
  encoder: { name: 'simclr-r18-cifar10.onnx', sha256: 'ab'.repeat(32), output: 'embedding' },
  createdAt: '2026-11-25T12:00:00.000Z',
};
const bytes = exportDecoder(cfg, weights, meta);

/** Re-serialise the exported model after an edit (the tampering a broken or hostile file would do). */
function tampered(edit: (m: Model) => Model): Uint8Array {
  return serializeModel(edit(parseModel(bytes)));
}

function withMetadata(patch: Record<string, string | undefined>): Uint8Array {
  return tampered((m) => {
    const md: Record<string, string> = { ...m.metadata };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete md[k];
      else md[k] = v;
    }
    return { ...m, metadata: md };
  });
}

function withConfig(patch: Record<string, unknown>): Uint8Array {
  const config = JSON.parse(parseModel(bytes).metadata?.[DECODER_META_KEYS.config] ?? '{}') as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete config[k];
    else config[k] = v;
  }
  return withMetadata({ [DECODER_META_KEYS.config]: JSON.stringify(config) });
}

function withInitializers(edit: (inits: Initializer[]) => Initializer[]): Uint8Array {
  return tampered((m) => ({ ...m, graph: { ...m.graph, initializers: edit([...m.graph.initializers]) } }));
}

function importError(b: Uint8Array): DecoderFileError {
  try {
    importDecoder(b);
  } catch (e) {
    if (e instanceof DecoderFileError) return e;
    throw e;
  }
  throw new Error('importDecoder accepted a tampered file');
}

describe('decoder file round trip', () => {
  it('gives back the config, every weight bit for bit, and the metadata', () => {
    const back = importDecoder(bytes);
    expect(back.cfg).toEqual(cfg);
    expect(back.meta).toEqual(meta);
    expect(back.graph).toEqual({ batch: 1, maskRatio: 0.99 });
    const specs = decoderParamSpecs(cfg);
    expect(Object.keys(back.weights).sort()).toEqual(specs.map((s) => s.name).sort()); // patch branch included
    for (const s of specs) expect(back.weights[s.name], s.name).toEqual(weights[s.name]);
  });

  it('is a standard inference model: runs in onnxruntime-node with no keep input at 0.99', async () => {
    // logSeverityLevel 3: ORT warns that the patch-branch weights are unused at Tk = 0 (kept on purpose).
    const session = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
    expect(session.inputNames).toEqual(['images', 'embedding']);
    expect(session.outputNames).toEqual(['pred', 'reconstruction', 'dedeScore', 'patchError', 'pixelError', 'masked']);
    const rng = mulberry32(2);
    const images = normals(rng, 3 * 16 * 16);
    const embedding = normals(rng, cfg.embedDim);
    const out = await session.run({ images: new ortNode.Tensor('float32', images, [1, 3, 16, 16]), embedding: new ortNode.Tensor('float32', embedding, [1, cfg.embedDim]) });
    await session.release();
    const ref = evaluate(buildScorerModel(cfg, weights, { batch: 1 }).graph, { images, embedding });
    const got = (out.dedeScore!.data as Float32Array)[0]!;
    expect(Math.abs(got - ref.dedeScore!.data[0]!) / got).toBeLessThan(1e-5);
    expect(Array.from(out.masked!.data as Float32Array).every((m) => m === 1)).toBe(true);
  });

  it('exports other batch sizes and mask ratios (with a keep input when patches stay visible)', () => {
    const b = exportDecoder(cfg, weights, { training: { maskRatio: 0.9 } }, { batch: 2, maskRatio: 0.75 });
    const back = importDecoder(b);
    expect(back.graph).toEqual({ batch: 2, maskRatio: 0.75 });
    expect(back.meta).toEqual({ training: { maskRatio: 0.9 } });
    expect(parseModel(b).graph.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['images', [2, 3, 16, 16]],
      ['embedding', [2, 24]],
      ['keep', [2, 4, 16]],
    ]);
  });

  it('builds training info from a training plan and result', () => {
    const info = trainingInfoFrom({ ...DEFAULT_TRAINING, blindShare: 0 }, { steps: 500, epochs: 16, elapsedSeconds: 300, losses: [{ step: 490, loss: 0.5 }, { step: 500, loss: 0.45 }] }, 2000);
    expect(info).toEqual({ maskRatio: 0.9, batchSize: 64, lr: 1e-3, seed: 0, steps: 500, epochs: 16, elapsedSeconds: 300, finalLoss: 0.45, trainImages: 2000 });
    expect(() => exportDecoder(cfg, weights, { training: { ...info, optimiser: 'sgd' } as DecoderMeta['training'] })).toThrow(/training\.optimiser is not a known field/);
  });

  it('records a blind share other than 0 and reads it back', () => {
    const info = trainingInfoFrom({ ...DEFAULT_TRAINING, blindShare: 0.25 }, { steps: 10, epochs: 1, elapsedSeconds: 5, losses: [] });
    expect(info.blindShare).toBe(0.25);
    expect(importDecoder(exportDecoder(cfg, weights, { training: info })).meta.training.blindShare).toBe(0.25);
    expect(() => exportDecoder(cfg, weights, { training: { ...info, blindShare: 'half' } as unknown as DecoderMeta['training'] })).toThrow(/blindShare/);
  });
});

describe('strict import', () => {
  it('records the encoder readout and reads it back; files without one (older) still read', () => {
    const readout = { output: 'last_hidden_state', pooling: 'cls' as const, reason: 'model_type dinov2: DINOv2 is trained on its CLS token.', dim: 768 };
    const withReadout = { ...meta, encoder: { ...meta.encoder, output: 'last_hidden_state', readout } };
    expect(importDecoder(exportDecoder(cfg, weights, withReadout)).meta).toEqual(withReadout);
    expect(importDecoder(bytes).meta.encoder).toEqual({ name: 'simclr-r18-cifar10.onnx', sha256: 'ab'.repeat(32), output: 'embedding' });
    const bad = JSON.stringify({ ...meta.encoder, readout: { output: 'last_hidden_state', pooling: 'max' } });
    expect(importError(withMetadata({ [DECODER_META_KEYS.encoder]: bad })).problems).toEqual([
      'dede.encoder.readout.pooling must be one of none, flatten, avgpool, cls, patch-mean, got "max"',
    ]);
  });

  it('names a missing tensor', () => {
    const e = importError(withInitializers((inits) => inits.filter((t) => t.name !== 'dec.mask')));
    expect(e.problems).toEqual(['missing tensor dec.mask']);
  });

  it('names an extra tensor', () => {
    const extra: Initializer = { name: 'dec.extra', dtype: 'float32', shape: [2], data: new Float32Array(2) };
    expect(importError(withInitializers((inits) => [...inits, extra])).problems).toEqual(['unexpected tensor dec.extra']);
  });

  it('names a tensor of the wrong shape or type, or with non-finite values', () => {
    const reshape = withInitializers((inits) => inits.map((t) => (t.name === 'dec.pos' ? { ...t, shape: [t.shape[1]!, t.shape[0]!] } : t)));
    expect(importError(reshape).message).toMatch(/tensor dec\.pos has shape \[32,17\] but dede\.decoder_config implies \[17,32\]/);
    const nan = withInitializers((inits) => inits.map((t) => (t.name === 'splice.w' ? { ...t, data: Float32Array.from(t.data as Float32Array, (v, i) => (i === 5 ? NaN : v)) } : t)));
    expect(importError(nan).problems).toEqual(['tensor splice.w holds non-finite values']);
    const int = withInitializers((inits) => inits.map((t) => (t.name === 'enc.cls' ? { ...t, dtype: 'int32' as const, data: new Int32Array(t.data.length) } : t)));
    expect(importError(int).problems).toEqual(['tensor enc.cls is int32, expected float32']);
  });

  it('rejects a config that does not match the tensors, naming each tensor', () => {
    const e = importError(withConfig({ decDim: 64 }));
    expect(e.problems).toContain('tensor dec.embed.w has shape [32,32] but dede.decoder_config implies [32,64]');
    expect(e.problems).toContain('tensor dec.mask has shape [32] but dede.decoder_config implies [64]');
    expect(importError(withConfig({ embedDim: 12 })).problems).toEqual(['tensor splice.w has shape [24,32] but dede.decoder_config implies [12,32]']);
  });

  it('rejects missing, unknown, mistyped and inconsistent config fields by name', () => {
    expect(importError(withConfig({ lnEps: undefined })).problems).toEqual(['dede.decoder_config.lnEps is missing']);
    expect(importError(withConfig({ dropout: 0.1 })).problems).toEqual(['dede.decoder_config.dropout is not a known field']);
    expect(importError(withConfig({ encDim: '32' })).problems).toEqual(['dede.decoder_config.encDim must be an integer, got "32"']);
    expect(importError(withConfig({ imageSize: 18 })).message).toMatch(/imageSize 18 is not divisible by patchSize 4/);
  });

  it('rejects an unknown format version, a foreign model and bytes that are not ONNX', () => {
    expect(importError(withMetadata({ [DECODER_META_KEYS.version]: '2' })).message).toMatch(/dede\.format_version is "2"; this version reads 1/);
    expect(importError(withMetadata({ [DECODER_META_KEYS.version]: undefined })).message).toMatch(/dede\.format_version is null/);
    expect(importError(withMetadata({ [DECODER_META_KEYS.format]: undefined })).message).toMatch(/not a DeDe decoder file: the model has no metadata dede\.format/);
    expect(importError(withMetadata({ [DECODER_META_KEYS.training]: '{"maskRatio":' })).message).toMatch(/dede\.training is not valid JSON/);
    expect(importError(withMetadata({ [DECODER_META_KEYS.training]: '{}' })).problems).toEqual(['dede.training.maskRatio is missing']);
    expect(importError(new Uint8Array([1, 2, 3, 4, 5])).message).toMatch(/^not a decoder file: /);
  });

  it('rejects a graph whose inputs disagree with the recorded export shapes', () => {
    const e = importError(withMetadata({ [DECODER_META_KEYS.graph]: JSON.stringify({ batch: 2, maskRatio: 0.99 }) }));
    expect(e.problems).toContain('input images is float32[1,3,16,16], expected float32[2,3,16,16]');
    expect(importError(withMetadata({ [DECODER_META_KEYS.graph]: JSON.stringify({ batch: 1, maskRatio: 0 }) })).message).toMatch(/mask ratio must be in \(0, 1\]/);
  });
});
