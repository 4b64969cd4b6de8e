import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { FIXTURE_CFG } from '../../testing/train-fixture';
import { GraphBuilder } from '../onnx/builder';
import { serializeModel } from '../onnx/serialize';
import { createRuntime } from '../runtime/session';
import { calibrate, realisedFpr, splitCalibration } from './calibrate';
import { contentScores, contentZs, splitContentCalibration } from './content-calibration';
import { type ContentComponents, cosineDistance, fitContentScale, flipHorizontal, lowPassError, resizeBilinear } from './content-score';
import { ContentScorer } from './content-scorer';
import type { EncoderSpec } from './encoder-runner';
import { initDecoderWeights } from './init';
import { mulberry32, normals } from './rng';
import { Scorer } from './scorer';

// A linear "encoder" on 8×8 images (the decoder draws 16×16, so x̂ is resized), batch fixed at 4.
const cfg = FIXTURE_CFG;
const H = 8;
const IN = 3 * H * H;
const D = cfg.embedDim;
const W = Float32Array.from({ length: IN * D }, (_, i) => Math.sin(i * 0.7) + 0.3 * Math.cos(i * 0.11));
function linearEncoder(): EncoderSpec {
  const b = new GraphBuilder('enc');
  const x = b.input('pixels', [4, 3, H, H]);
  b.output(b.matmul(b.reshape(x, [4, IN]), b.constant(W, [IN, D], 'float32')), 'emb');
  return { bytes: serializeModel(b.toModel({ paramsAs: 'initializer' })), inputName: 'pixels', readout: { output: 'emb', pooling: 'none' }, height: H, width: H, fixedBatch: 4 };
}
/** E(x) in float64, the reference for the ONNX encoder. */
function embedRef(x: Float32Array, i: number): Float64Array {
  const out = new Float64Array(D);
  for (let d = 0; d < D; d++) for (let k = 0; k < IN; k++) out[d]! += x[i * IN + k]! * W[k * D + d]!;
  return out;
}

describe('ContentScorer', () => {
  it('gives the components of a direct computation: cos of E(resized x̂), the low-pass grid of x̂ and cos of E(flip x)', async () => {
    const runtime = createRuntime(ortNode, 'cpu');
    const weights = initDecoderWeights(cfg, 5);
    const n = 6;
    const S = cfg.imageSize;
    const rng = mulberry32(9);
    const decoderImages = normals(rng, n * 3 * S * S);
    const encoderImages = resizeBilinear(decoderImages, 3, S, S, H, H);
    const embeddings = new Float32Array(n * D);
    for (let i = 0; i < n; i++) embeddings.set(embedRef(encoderImages, i), i * D);
    const content = await ContentScorer.create(runtime, cfg, weights, linearEncoder(), { rounds: 1 });
    const plain = await Scorer.create(runtime, cfg, weights, { rounds: 1 });
    try {
      const got = await content.scoreBatch({ decoderImages, encoderImages, embeddings });
      const ref = await plain.scoreBatch(decoderImages, embeddings, undefined, { reconstruction: true });
      const flipped = flipHorizontal(encoderImages, 3, H, H);
      for (let i = 0; i < n; i++) {
        const recon = ref[i]!.reconstruction!;
        const e = embeddings.subarray(i * D, (i + 1) * D);
        const semantic = cosineDistance(e, embedRef(resizeBilinear(recon, 3, S, S, H, H), 0));
        const lowPass = lowPassError(decoderImages.subarray(i * 3 * S * S, (i + 1) * 3 * S * S), recon, 3, S, S);
        const flip = cosineDistance(e, embedRef(flipped, i));
        expect(got[i]!.components.semantic).toBeCloseTo(semantic, 4);
        expect(got[i]!.components.lowPass).toBeCloseTo(lowPass, 5);
        expect(got[i]!.components.flip).toBeCloseTo(flip, 4);
        expect(got[i]!.components.semantic).toBeGreaterThan(1e-3); // an untrained decoder redraws another picture
        expect(got[i]!.decoder.score).toBeCloseTo(ref[i]!.score, 6);
        expect(got[i]!.decoder.dedeScore).toBeCloseTo(ref[i]!.dedeScore, 4);
      }
    } finally {
      await content.dispose();
      await plain.dispose();
    }
  });
});

describe('splitContentCalibration', () => {
  const comps: ContentComponents[] = Array.from({ length: 40 }, (_, i) => ({
    semantic: 0.1 + 0.05 * Math.sin(i * 1.3) ** 2,
    lowPass: 0.02 * (1 + ((i * 7) % 11)),
    flip: 0.05 + 0.01 * Math.cos(i),
  }));

  it('holds back the same images as splitCalibration, fits scale and τ on the rest only', () => {
    const method = { method: 'fpr', target: 0.1 } as const;
    const { calibration, heldOut } = splitContentCalibration(comps, 0.25, 3, method);
    // splitCalibration of the indices themselves tells which images its seeded shuffle holds back.
    const idx = splitCalibration(comps.map((_, i) => i), 0.25, 3, { method: 'sigma', k: 0 });
    const fitIdx = idx.calibration.cleanScores;
    const heldIdx = comps.map((_, i) => i).filter((i) => !fitIdx.includes(i));
    expect(heldIdx).toHaveLength(10);
    const scale = fitContentScale(fitIdx.map((i) => comps[i]!));
    // The same fit (the weights' sums run in another order: equal to rounding).
    const { weights: w, ...rest } = scale;
    expect(calibration.scoreKind).toEqual({ kind: 'content', scale: { ...rest, weights: { semantic: expect.closeTo(w!.semantic, 12), lowPass: expect.closeTo(w!.lowPass, 12), flip: expect.closeTo(w!.flip, 12) } } });
    // decoderScore = w_s·z_semantic + w_l·z_lowPass + w_f·|z_flip|, written out.
    const z = (v: number, k: 'semantic' | 'lowPass' | 'flip') => (Math.log(v) - scale[k].center) / scale[k].spread;
    const direct = (c: ContentComponents) => w!.semantic * z(c.semantic, 'semantic') + w!.lowPass * z(c.lowPass, 'lowPass') + w!.flip * Math.abs(z(c.flip, 'flip'));
    const ref = calibrate(fitIdx.map((i) => direct(comps[i]!)), method, { kind: 'content', scale });
    expect(calibration.threshold).toBeCloseTo(ref.threshold, 12);
    expect(calibration.n).toBe(30);
    expect(heldOut).toEqual(realisedFpr(ref, heldIdx.map((i) => direct(comps[i]!))));
    const scores = contentScores(comps, scale);
    comps.forEach((c, i) => expect(scores[i]).toBeCloseTo(direct(c), 12));
    const zs = contentZs(comps.slice(0, 1), scale)[0]!;
    expect(zs.flip).toBeCloseTo(Math.abs(z(comps[0]!.flip, 'flip')), 12);
  });

  it('refuses too few clean images with a message', () => {
    expect(() => splitContentCalibration(comps.slice(0, 2), 0.3, 0, { method: 'sigma', k: 3 })).toThrow(/at least 3 clean images/);
  });
});
